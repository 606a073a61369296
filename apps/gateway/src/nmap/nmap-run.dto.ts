import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, IsArray, IsDefined, IsString, MaxLength } from 'class-validator';

export class NmapRunDto {
  @ApiProperty({
    type: [String],
    example: ['-sT', '-Pn', '-p', '22,80'],
    description: 'Options on the allow-list',
  })
  @IsDefined()
  @IsArray()
  @ArrayMaxSize(64)
  @IsString({ each: true })
  @MaxLength(256, { each: true })
  nmap_flags!: string[];

  @ApiProperty({
    type: [String],
    example: ['127.0.0.1'],
    description: 'Addresses, ranges, CIDRs or host names',
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(256)
  @IsString({ each: true })
  @MaxLength(256, { each: true })
  targets!: string[];
}

export class NmapRunResultDto {
  @ApiProperty({ example: 'Starting Nmap 7.93 ...' }) stdout!: string;
  @ApiProperty({ example: 0 }) exit_code!: number;
}
