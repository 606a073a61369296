import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';

export class CreateProjectDto {
  @ApiProperty({ example: 'Lab network' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiPropertyOptional({ example: 'Loopback listeners of the lab' })
  @IsOptional()
  @IsString()
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
