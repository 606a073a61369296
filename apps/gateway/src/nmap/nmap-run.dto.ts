import { ApiProperty } from '@nestjs/swagger';
import { NmapFlagsField, TargetsField } from './nmap-fields';

export class NmapRunDto {
  @NmapFlagsField(['-sT', '-Pn', '-p', '22,80'])
  nmap_flags!: string[];

  @TargetsField(256, ['127.0.0.1'])
  targets!: string[];
}

export class NmapRunResultDto {
  @ApiProperty({ example: 'Starting Nmap 7.93 ...' }) stdout!: string;
  @ApiProperty({ example: 0 }) exit_code!: number;
}
