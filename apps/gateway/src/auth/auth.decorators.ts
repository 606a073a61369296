import { SetMetadata } from '@nestjs/common';

export const PUBLIC_ROUTE = 'nso:public';
export const REQUIRED_ROLES = 'nso:roles';

/** A route anyone may call, without a session or token. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** A route only users of these roles may call; others get 403. */
export const Roles = (...roles: Array<'admin' | 'user'>) => SetMetadata(REQUIRED_ROLES, roles);

export const CHANGES_STATE = 'nso:changes-state';
export const SESSION_ROUTE = 'nso:session-route';

/**
 * A route that starts or ends a browser session (login, register, logout): its state changes pass the
 * cross-site check whatever authenticates the request. A login form posted from another site carries no cookie,
 * and would otherwise log the victim's browser into the attacker's account (login CSRF).
 */
export const SessionRoute = () => SetMetadata(SESSION_ROUTE, true);

/**
 * A GET that starts work (seed 003's `GET /api/scans/{id}/execute`): a cookie-authenticated call passes the same
 * cross-site check as a POST, so a link or image on another site cannot start a scan.
 */
export const ChangesState = () => SetMetadata(CHANGES_STATE, true);
