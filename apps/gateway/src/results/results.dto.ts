import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { NMAP_HOST_STATES, NMAP_PORT_STATES } from '@nso/nmap';
import { PageQuery } from '../common/pagination';

const HOST_STATES = NMAP_HOST_STATES;
const PORT_STATES = NMAP_PORT_STATES;

export class RunHostsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: HOST_STATES, description: "Only hosts in this state (nmap's host state)" })
  @IsOptional()
  @IsIn(HOST_STATES, { message: `host_state must be one of: ${HOST_STATES.join(', ')}` })
  host_state?: (typeof HOST_STATES)[number];

  @ApiPropertyOptional({
    enum: PORT_STATES,
    description: 'Only hosts with a port in this state, and only those ports',
  })
  @IsOptional()
  @IsIn(PORT_STATES, { message: `port_state must be one of: ${PORT_STATES.join(', ')}` })
  port_state?: (typeof PORT_STATES)[number];
}
