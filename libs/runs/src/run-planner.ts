// What a run of some settings would be, before anything is stored: the options as the policy normalises them,
// the targets resolved and checked against the scope, and the addresses delegated to clients and cut into
// batches. RunService stores what `prepare` yields; `preview` is the same work reported instead of thrown.
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import {
  NmapArgumentPolicy,
  parseTargets,
  resolveTargets,
  ResolvedNames,
  ScanScope,
  ScopeError,
  TargetSet,
  type TargetSpec,
} from '@nso/nmap';
import { ClientRepository } from '@nso/persistence';
import { DelegatedBatches, delegateTargets, DelegationPart } from './delegation';
import type { RunPreview, RunSettings } from './run-commands';
import { NoCoveringClientError } from './run.errors';

/** What validation of a run's settings yields: what the run stores and how its batches are cut. */
export interface PreparedRun {
  /** The options as the policy normalised them. */
  flags: string[];
  resolvedNames: ResolvedNames;
  targetsTotal: number;
  batchesTotal: number;
  delegation: DelegationPart[];
  unassignedTargets: string[];
  clientsTriggered: number;
}

/** What a start of some settings would store and enqueue (RunService.start, startOneOff, preview). */
@Injectable()
export class RunPlanner {
  constructor(
    private readonly policy: NmapArgumentPolicy,
    private readonly scope: ScanScope,
    private readonly clients: ClientRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Validates the settings (policy, targets, scope; host names resolved here, once) and delegates the addresses
   * to the approved, online clients. Throws NmapPolicyError, TargetError, ScopeError or NoCoveringClientError.
   */
  async prepare(settings: RunSettings): Promise<PreparedRun> {
    const flags = this.policy.validate(settings.nmapFlags);
    const specs = parseTargets(settings.targets);
    const resolvedNames = await resolveTargets(specs, flags, this.scope);
    // Each address once: overlapping targets and names resolving to listed addresses are merged.
    const set = TargetSet.build(specs, flags, resolvedNames);
    const { parts, unassigned, cut } = await this.delegate(set, settings.chunkSize, settings.clientIds);
    if (parts.length === 0) throw new NoCoveringClientError(unassigned);
    return {
      flags,
      resolvedNames,
      targetsTotal: cut.targets,
      batchesTotal: cut.total,
      delegation: parts,
      unassignedTargets: unassigned,
      clientsTriggered: cut.clientsTriggered().length,
    };
  }

  /**
   * A dry run of prepare (RunService.preview): a refused option or a malformed target throws as a start would
   * (NmapPolicyError, TargetError); targets outside the scope and addresses no client covers are reported instead
   * of thrown, with the plan of the rest, and `refusal` holds the error a start would throw for them.
   */
  async preview(settings: RunSettings): Promise<RunPreview> {
    const flags = this.policy.validate(settings.nmapFlags);
    let specs: TargetSpec[] = parseTargets(settings.targets);
    const outOfScope: string[] = [];
    let resolvedNames: ResolvedNames = {};
    // A name may resolve elsewhere on the second try: at most as many rounds as there are targets.
    for (let round = 0; specs.length > 0; round++) {
      try {
        resolvedNames = await resolveTargets(specs, flags, this.scope);
        break;
      } catch (error) {
        if (!(error instanceof ScopeError) || round >= settings.targets.length) throw error;
        outOfScope.push(...error.outOfScope);
        const outside = new Set(error.outOfScope);
        specs = specs.filter((spec) => !outside.has(spec.text));
      }
    }
    const set = TargetSet.build(specs, flags, resolvedNames);
    const { parts, unassigned, cut } = await this.delegate(set, settings.chunkSize);
    const uncovered = parts.length === 0 && set.count > 0;
    const outside = [...new Set(outOfScope)];
    const refusal = outside.length
      ? new ScopeError(`targets outside the scan scope: ${listTargets(outside)}`, outside)
      : uncovered
        ? new NoCoveringClientError(unassigned)
        : undefined;
    return {
      nmapFlags: flags,
      resolvedNames,
      addresses: set.count,
      targetsTotal: cut.targets,
      batchesTotal: cut.total,
      delegation: cut.partSizes(),
      clientsTriggered: cut.clientsTriggered(),
      unassignedTargets: unassigned,
      outOfScope: outside,
      ...(refusal ? { refusal } : {}),
    };
  }

  /**
   * The run's addresses split among the approved, online clients (delegateTargets; only those of `clientIds` when
   * given) and cut into batches; parts of agents only take AGENT_TASK_TARGETS addresses a batch when set.
   */
  private async delegate(set: TargetSet, chunkSize: number, clientIds?: readonly string[]) {
    const online = await this.clients.findDelegable(new Date(), this.config.clients.offlineAfterMs, [
      'pool',
      'agent',
    ]);
    const only = clientIds ? new Set(clientIds) : undefined;
    const clients = only ? online.filter((c) => only.has(c.clientId)) : online;
    const delegation = delegateTargets(set, clients);
    // Agents' tasks may hold more addresses than a pool's batch (AGENT_TASK_TARGETS), stored with the part.
    const taskTargets = this.config.clients.agentTaskTargets;
    const parts = delegation.parts.map((part) =>
      taskTargets > 0 && part.agents?.length === part.clients.length
        ? { ...part, chunkSize: taskTargets }
        : part,
    );
    return { parts, unassigned: delegation.unassigned, cut: new DelegatedBatches(set, parts, chunkSize) };
  }
}

/** Up to 20 targets, then how many more (as ScopeError's own message lists them). */
function listTargets(targets: string[]): string {
  return targets.slice(0, 20).join(', ') + (targets.length > 20 ? ` and ${targets.length - 20} more` : '');
}
