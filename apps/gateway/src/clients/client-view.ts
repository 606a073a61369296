// The API's view of a scanner client (seed 003's client object); admins see the address binding and refusals.
import type { Client, ClientStatus } from '@nso/persistence';
import type { ClientDto } from './clients.dto';

/** A date as the API writes it (ISO 8601, UTC), null kept. */
export const iso = (date: Date | null) => (date ? date.toISOString() : null);

/**
 * The client as answers show it: `status` as clientStatus computed it now, `outside` the part of its scan_range
 * outside the scan scope; `admin` adds source_ip, approved_ip/at and refused_ip/at/count.
 */
export function clientView(
  client: Client,
  admin: boolean,
  status: ClientStatus,
  outside: string[],
): ClientDto {
  const dto: ClientDto = {
    id: client.id,
    client_id: client.clientId,
    kind: client.kind,
    hostname: client.hostname,
    ip_address: client.ipAddress,
    port: client.port,
    scan_range: client.scanRange.join(','),
    scan_range_outside_scope: outside,
    status,
    is_approved: client.isApproved,
    is_enabled: client.isEnabled,
    active_scans: client.activeScans,
    last_seen: iso(client.lastSeen),
    created_at: client.createdAt.toISOString(),
    capabilities: client.capabilities ?? null,
    system_info: client.systemInfo ?? null,
  };
  if (!admin) return dto;
  return {
    ...dto,
    source_ip: client.sourceIp,
    approved_ip: client.approvedIp,
    approved_at: iso(client.approvedAt),
    refused_ip: client.refusedIp,
    refused_at: iso(client.refusedAt),
    refused_count: client.refusedCount,
  };
}
