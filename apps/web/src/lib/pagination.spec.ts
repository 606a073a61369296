import { normalisePage, pageFromQuery, withQuery } from './pagination';

describe('normalisePage', () => {
  it('reads the run-history shape', () => {
    expect(
      normalisePage({
        total: 120,
        page: 2,
        per_page: 50,
        pages: 3,
        has_next: true,
        has_prev: true,
        limit: 50,
        offset: 50,
      }),
    ).toEqual({ page: 2, pages: 3, perPage: 50, total: 120, hasNext: true, hasPrev: true });
  });
  it("reads a scan's reports (current_page)", () => {
    expect(
      normalisePage({ total: 11, pages: 2, current_page: 2, per_page: 10, has_next: false, has_prev: true }),
    ).toEqual({ page: 2, pages: 2, perPage: 10, total: 11, hasNext: false, hasPrev: true });
  });
  it("reads the user's reports (nested pagination)", () => {
    expect(
      normalisePage({
        reports: [],
        pagination: {
          page: 1,
          per_page: 25,
          total_items: 30,
          total_pages: 2,
          has_next: true,
          has_prev: false,
        },
      }),
    ).toEqual({ page: 1, pages: 2, perPage: 25, total: 30, hasNext: true, hasPrev: false });
  });
  it('derives the page from offset and the flags from the counts when absent', () => {
    expect(normalisePage({ total: 45, limit: 20, offset: 40 })).toEqual({
      page: 3,
      pages: 3,
      perPage: 20,
      total: 45,
      hasNext: false,
      hasPrev: true,
    });
  });
  it('shows an empty list as page 1 of 1', () => {
    expect(normalisePage({ total: 0, per_page: 20 })).toMatchObject({
      page: 1,
      pages: 1,
      hasNext: false,
      hasPrev: false,
    });
  });
});

describe('pageFromQuery / withQuery', () => {
  it('accepts positive integers only', () => {
    expect(pageFromQuery('?page=3')).toBe(3);
    expect(pageFromQuery('?page=0')).toBe(1);
    expect(pageFromQuery('?page=0x2')).toBe(1);
    expect(pageFromQuery('page=-1')).toBe(1);
    expect(pageFromQuery('')).toBe(1);
  });
  it('sets and removes parameters, keeping the others', () => {
    expect(withQuery('?active=1&page=2', { page: 3 })).toBe('?active=1&page=3');
    expect(withQuery('?active=1&page=2', { page: null })).toBe('?active=1');
    expect(withQuery('page=2', { page: '' })).toBe('');
  });
});
