import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { PlainText, Trim } from '../common/text-fields';

export class CreateTokenDto {
  @ApiProperty({ example: 'ci-pipeline', description: 'Trimmed; must not be empty' })
  @Trim()
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(100)
  name!: string;
}

export class TokenDto {
  @ApiProperty({ example: 1 }) id!: number;
  @ApiProperty({ example: 'ci-pipeline' }) name!: string;
  @ApiProperty() created_at!: Date;
  @ApiProperty({ nullable: true, type: Date }) last_used_at!: Date | null;
}

export class CreatedTokenDto {
  @ApiProperty({ example: 1 }) id!: number;
  @ApiProperty({ example: 'ci-pipeline' }) name!: string;
  @ApiProperty({ example: 'nso_3q2…', description: 'Shown once; send as Authorization: Bearer <token>' })
  token!: string;
}
