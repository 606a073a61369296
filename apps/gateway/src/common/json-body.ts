import { json, NextFunction, Request, Response, urlencoded } from 'express';

/**
 * Body parsing with our own error answer: a malformed or oversized body is a 4xx in the API's error shape,
 * never Express's HTML page or a 500.
 */
export const jsonBodyParser = json({ limit: '1mb' });
export const formBodyParser = urlencoded({ extended: false, limit: '64kb' });

export function bodyParserErrorHandler(
  error: unknown,
  _req: Request,
  res: Response,
  next: NextFunction,
): void {
  const failure = error as { type?: string; status?: number };
  if (!failure || typeof failure.status !== 'number' || !failure.type) return next(error);
  if (failure.type === 'entity.parse.failed') {
    res.status(400).json({ error: 'Malformed JSON body' });
  } else if (failure.type === 'entity.too.large') {
    res.status(413).json({ error: 'Request body too large' });
  } else {
    res
      .status(failure.status >= 400 && failure.status < 500 ? failure.status : 400)
      .json({ error: 'Unreadable body' });
  }
}
