import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { PlainText, Trim } from '../common/text-fields';

export class CreateProjectDto {
  @ApiProperty({ example: 'Lab network', description: 'Trimmed; must not be empty' })
  @Trim()
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiPropertyOptional({ example: 'Loopback listeners of the lab' })
  @IsOptional()
  @IsString()
  @PlainText({ allowLineBreaks: true })
  @MaxLength(2000)
  description?: string;
}

export class ProjectCreatedDto {
  @ApiProperty({ example: 1 }) id!: number;
  @ApiProperty({ example: 'Lab network' }) name!: string;
}

export class ProjectDto extends ProjectCreatedDto {
  @ApiProperty({ example: 'Loopback listeners of the lab', nullable: true, type: String })
  description!: string | null;
}
