import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthController } from './auth.controller';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { SameOriginPolicy } from './same-origin';

@Module({
  controllers: [AuthController],
  providers: [AuthService, SameOriginPolicy, { provide: APP_GUARD, useClass: AuthGuard }, AuthGuard],
  exports: [AuthGuard, SameOriginPolicy],
})
export class AuthModule {}
