import { AgentTask } from './agent-task.entity';
import { ApiToken } from './api-token.entity';
import { Batch } from './batch.entity';
import { Client } from './client.entity';
import { DeltaChange } from './delta-change.entity';
import { DeltaReport } from './delta-report.entity';
import { Host } from './host.entity';
import { Port } from './port.entity';
import { Project } from './project.entity';
import { ScanResult } from './scan-result.entity';
import { Scan } from './scan.entity';
import { ScheduleFire } from './schedule-fire.entity';
import { User } from './user.entity';
import { WebhookDelivery } from './webhook-delivery.entity';
import { WebhookRule } from './webhook-rule.entity';

export * from './agent-task.entity';
export * from './api-token.entity';
export * from './batch.entity';
export * from './client.entity';
export * from './delta-change.entity';
export * from './delta-report.entity';
export * from './host.entity';
export * from './port.entity';
export * from './project.entity';
export * from './scan-result.entity';
export * from './scan.entity';
export * from './schedule-fire.entity';
export * from './user.entity';
export * from './webhook-delivery.entity';
export * from './webhook-rule.entity';

/** Every entity, registered explicitly (no folder discovery: the same list works from ts source and dist). */
export const ENTITIES = [
  User,
  Project,
  Scan,
  ScanResult,
  Batch,
  Host,
  Port,
  ApiToken,
  ScheduleFire,
  Client,
  DeltaReport,
  AgentTask,
  DeltaChange,
  WebhookRule,
  WebhookDelivery,
];
