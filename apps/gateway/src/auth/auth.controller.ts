import { Body, Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiForbiddenResponse,
  ApiFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ChangesState, Public, SessionRoute } from './auth.decorators';
import { AuthSuccessDto, LoginDto, RegisterDto } from './auth.dto';
import { AuthService, StartedSession } from './auth.service';
import { clearSessionCookie, setSessionCookie } from './cookies';

const SUCCESS: AuthSuccessDto = { success: true, redirect: '/dashboard' };

@ApiTags('auth')
@Public()
@SessionRoute()
@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('login')
  @HttpCode(200)
  @ApiOkResponse({ type: AuthSuccessDto, description: 'Sets the HttpOnly session cookie' })
  @ApiUnauthorizedResponse({ description: 'Invalid username or password' })
  @ApiForbiddenResponse({ description: 'Cross-site request refused (login CSRF)' })
  async login(
    @Body() body: LoginDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AuthSuccessDto> {
    this.setCookie(req, res, await this.auth.login(body, req.ip ?? 'unknown'));
    return SUCCESS;
  }

  @Post('register')
  @HttpCode(200)
  @ApiOkResponse({ type: AuthSuccessDto, description: 'Creates the user and logs them in' })
  @ApiBadRequestResponse({ description: 'Names each invalid field in invalid_fields' })
  @ApiForbiddenResponse({ description: 'Cross-site request refused (login CSRF)' })
  async register(
    @Body() body: RegisterDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AuthSuccessDto> {
    this.setCookie(req, res, await this.auth.register(body));
    return SUCCESS;
  }

  @Post('logout')
  @HttpCode(200)
  @ApiOkResponse({
    description: 'Ends the session and clears the cookie: {"success": true, "redirect": "/auth/login"}',
  })
  @ApiForbiddenResponse({ description: 'Cross-site request refused' })
  async logout(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    await this.auth.logout(req.sessionId);
    clearSessionCookie(req, res);
    return { success: true, redirect: '/auth/login' };
  }

  /**
   * The link form of logout, kept for same-origin navigation: a GET that ends a session passes the cross-site
   * check (ChangesState), so a link or image on another site cannot log a user out.
   */
  @Get('logout')
  @ChangesState()
  @ApiFoundResponse({ description: 'Ends the session and redirects to the login page' })
  @ApiForbiddenResponse({ description: 'Cross-site request refused (use POST /auth/logout from pages)' })
  async logoutLink(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.auth.logout(req.sessionId);
    clearSessionCookie(req, res);
    res.redirect(302, '/auth/login');
  }

  /** How to log in, for curl and JSON clients; a browser asking for HTML gets the dashboard's page (web/web-ui.ts). */
  @Get('login')
  loginHelp() {
    return {
      login: 'POST /auth/login {"username", "password", "remember"}',
      register: 'POST /auth/register',
    };
  }

  private setCookie(req: Request, res: Response, session: StartedSession): void {
    setSessionCookie(req, res, session.sessionId, session.cookieMaxAgeSeconds);
  }
}
