import express from 'express';
import type { IncomingMessage } from 'node:http';
import { isCrossSite, ownOrigins, requestProtocol, TrustProxyFn } from './same-origin';

/** The trust function Express itself compiles from a TRUST_PROXY value. */
const trustOf = (setting: boolean | number | string): TrustProxyFn =>
  express().set('trust proxy', setting).get('trust proxy fn') as TrustProxyFn;

const request = (headers: Record<string, string>, peer = '127.0.0.1', encrypted = false): IncomingMessage =>
  ({ headers, socket: { remoteAddress: peer, encrypted } }) as unknown as IncomingMessage;

describe('requestProtocol: the scheme as Express reads it', () => {
  const forwarded = { host: 'scan.example:8443', 'x-forwarded-proto': 'https, http' };

  it('ignores X-Forwarded-Proto without a trusted proxy', () => {
    expect(requestProtocol(request(forwarded), trustOf(false))).toBe('http');
  });

  it('takes the first X-Forwarded-Proto value from a trusted peer', () => {
    expect(requestProtocol(request(forwarded), trustOf(true))).toBe('https');
    expect(requestProtocol(request(forwarded), trustOf(1))).toBe('https');
    expect(requestProtocol(request(forwarded), trustOf('loopback'))).toBe('https');
  });

  it('ignores it from a peer outside the trusted list', () => {
    expect(requestProtocol(request(forwarded, '::ffff:127.0.0.9'), trustOf('127.0.0.1'))).toBe('http');
  });

  it('uses TLS on the socket when there is no proxy header', () => {
    expect(requestProtocol(request({ host: 'h' }, '127.0.0.1', true), trustOf(true))).toBe('https');
  });
});

describe('ownOrigins and isCrossSite', () => {
  const trusted = trustOf('loopback');

  it('is the request scheme and Host when PUBLIC_ORIGINS is empty', () => {
    const req = request({ host: 'Scan.Example:8443', 'x-forwarded-proto': 'https' });
    expect(ownOrigins(req, [], trusted)).toEqual(['https://scan.example:8443']);
    expect(ownOrigins(req, [], trustOf(false))).toEqual(['http://scan.example:8443']);
  });

  it('is PUBLIC_ORIGINS when set', () => {
    expect(ownOrigins(request({ host: 'h' }), ['https://a.example'], trusted)).toEqual(['https://a.example']);
  });

  it.each([
    [{ origin: 'https://own.example' }, false],
    [{ origin: 'https://OWN.example' }, false],
    [{ origin: 'https://evil.example' }, true],
    [{ origin: 'null' }, true],
    [{ referer: 'https://own.example/page' }, false],
    [{ referer: 'https://evil.example/page' }, true],
    [{ referer: '::not a url' }, true],
    [{ 'sec-fetch-site': 'cross-site' }, true],
    [{ 'sec-fetch-site': 'same-origin' }, false],
    [{}, false],
    // Origin, then Sec-Fetch-Site, then Referer (issue 17): a Referer a page can strip decides last.
    [{ origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' }, true],
    [{ 'sec-fetch-site': 'cross-site', referer: 'https://own.example/page' }, true],
    [{ 'sec-fetch-site': 'none' }, false],
    [{ 'sec-fetch-site': 'same-site', referer: 'https://own.example/page' }, false],
    [{ 'sec-fetch-site': 'same-site', referer: 'https://sibling.own.example/' }, true],
    [{ 'sec-fetch-site': 'same-site' }, true],
  ])('%j is cross-site: %s', (headers, expected) => {
    expect(isCrossSite(request(headers), ['https://own.example'])).toBe(expected);
  });
});
