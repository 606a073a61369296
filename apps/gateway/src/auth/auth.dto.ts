import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsEmail, IsNotEmpty, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { USERNAME_PATTERN } from '@nso/config';
import { PlainText, Trim } from '../common/text-fields';

export class LoginDto {
  @ApiProperty({ example: 'admin' })
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(256)
  username!: string;

  @ApiProperty({ example: 'your-password' })
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(256)
  password!: string;

  @ApiPropertyOptional({
    default: false,
    description: 'A long-lived session instead of one that ends when idle',
  })
  @IsOptional()
  @IsBoolean()
  remember?: boolean;
}

export class RegisterDto {
  @ApiProperty({ example: 'newuser' })
  @IsString()
  @PlainText()
  @Matches(USERNAME_PATTERN, { message: 'username must be 3 to 64 letters, digits, ".", "_" or "-"' })
  username!: string;

  @ApiProperty({ example: 'user@example.com' })
  @IsString()
  @PlainText()
  @IsEmail({}, { message: 'email must be an e-mail address' })
  @MaxLength(254)
  email!: string;

  @ApiProperty({ example: 'SecurePass123' })
  @IsString()
  @PlainText()
  @IsNotEmpty()
  password!: string;

  @ApiProperty({ example: 'SecurePass123' })
  @IsString()
  @PlainText()
  @IsNotEmpty()
  confirm_password!: string;

  @ApiPropertyOptional({ example: 'John', description: 'Trimmed; not empty when given' })
  @IsOptional()
  @Trim()
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(100)
  first_name?: string;

  @ApiPropertyOptional({ example: 'Doe', description: 'Trimmed; not empty when given' })
  @IsOptional()
  @Trim()
  @IsString()
  @PlainText()
  @IsNotEmpty()
  @MaxLength(100)
  last_name?: string;
}

export class AuthSuccessDto {
  @ApiProperty({ example: true }) success!: true;
  @ApiProperty({ example: '/dashboard' }) redirect!: string;
}
