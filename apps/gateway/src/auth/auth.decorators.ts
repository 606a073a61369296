import { SetMetadata } from '@nestjs/common';

export const PUBLIC_ROUTE = 'nso:public';
export const REQUIRED_ROLES = 'nso:roles';

/** A route anyone may call, without a session or token. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** A route only users of these roles may call; others get 403. */
export const Roles = (...roles: Array<'admin' | 'user'>) => SetMetadata(REQUIRED_ROLES, roles);

export const CHANGES_STATE = 'nso:changes-state';

/**
 * A GET that starts work (seed 003's `GET /api/scans/{id}/execute`): a cookie-authenticated call passes the same
 * cross-site check as a POST, so a link or image on another site cannot start a scan.
 */
export const ChangesState = () => SetMetadata(CHANGES_STATE, true);
