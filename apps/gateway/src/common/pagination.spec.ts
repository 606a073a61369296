import { pageFields, pageWindow } from './pagination';

/** The paging fields of `total` rows for a query, as a list endpoint answers them. */
const fields = (total: number, query: Parameters<typeof pageWindow>[0]) =>
  pageFields(total, pageWindow(query, 50));

describe('pageWindow and pageFields', () => {
  it('numbers pages of page/per_page queries as before: 10 rows, 3 a page', () => {
    expect([1, 2, 3, 4].map((page) => fields(10, { page, per_page: 3 }))).toEqual([
      expect.objectContaining({ page: 1, pages: 4, offset: 0, has_next: true, has_prev: false }),
      expect.objectContaining({ page: 2, pages: 4, offset: 3, has_next: true, has_prev: true }),
      expect.objectContaining({ page: 3, pages: 4, offset: 6, has_next: true, has_prev: true }),
      expect.objectContaining({ page: 4, pages: 4, offset: 9, has_next: false, has_prev: true }),
    ]);
  });

  it('makes the page of an offset between pages the last exactly when there is no next', () => {
    // Rows 8-10 of 10: the last page, after rows 1-7 (pages of 1, 3 and 3 rows).
    expect(fields(10, { offset: 7, limit: 3 })).toMatchObject({ page: 4, pages: 4, has_next: false });
    // Rows 3-5 of 10: two pages after it (6-8, 9-10), one before.
    expect(fields(10, { offset: 2, limit: 3 })).toMatchObject({ page: 2, pages: 4, has_next: true });
    expect(fields(10, { offset: 1, limit: 3 })).toMatchObject({ page: 2, pages: 4, has_next: true });
  });

  it('counts no page of nothing, and a page past the end as after the last', () => {
    expect(fields(0, {})).toMatchObject({ page: 1, pages: 0, has_next: false, has_prev: false });
    expect(fields(10, { offset: 20, limit: 5 })).toMatchObject({ page: 5, pages: 2, has_next: false });
  });
});
