import { ApiProperty } from '@nestjs/swagger';

/** `GET /api/me`: the signed-in user, as `GET /api/users` lists users (without created_at). */
export class MeDto {
  @ApiProperty({ example: 1 }) id!: number;
  @ApiProperty({ example: 'admin' }) username!: string;
  @ApiProperty({ example: 'admin@example.com', nullable: true, type: String }) email!: string | null;
  @ApiProperty({ enum: ['admin', 'user'], description: 'Admins see and use the admin-only routes' })
  role!: 'admin' | 'user';
  @ApiProperty({ example: 'Ada', nullable: true, type: String }) first_name!: string | null;
  @ApiProperty({ example: 'Lovelace', nullable: true, type: String }) last_name!: string | null;
}
