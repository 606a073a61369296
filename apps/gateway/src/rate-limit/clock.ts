import { Injectable } from '@nestjs/common';

/** The time rate limiting reads, in milliseconds; a class of its own so a test can put a fake clock in its place. */
@Injectable()
export class Clock {
  now(): number {
    return Date.now();
  }
}
