// Error bodies in the shapes of the delta-reporter API's "Error Responses": `{error, ...details}`.
export interface ErrorBody {
  error: string;
  [detail: string]: unknown;
}

export const STATUS_MESSAGES: Record<number, string> = {
  400: 'Bad request',
  401: 'Authentication required',
  403: 'Unauthorized',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Request body too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
  500: 'Internal server error',
  503: 'Service unavailable',
};
