// One shape for the three paging answers of the API (run history, seed 003's reports, the user's reports).

/** A page as the UI shows it: 1-based `page`, `pages` at least 1. */
export interface PageInfo {
  page: number;
  pages: number;
  perPage: number;
  total: number;
  hasNext: boolean;
  hasPrev: boolean;
}

type Num = number | null | undefined;
interface AnyPaging {
  page?: Num;
  current_page?: Num;
  per_page?: Num;
  limit?: Num;
  offset?: Num;
  total?: Num;
  total_items?: Num;
  pages?: Num;
  total_pages?: Num;
  has_next?: boolean;
  has_prev?: boolean;
  pagination?: AnyPaging;
}

const int = (v: Num, fallback: number): number =>
  typeof v === 'number' && Number.isFinite(v) ? v : fallback;

/**
 * Reads `{total, page, per_page, pages, has_next, has_prev}` (run history, scans, clients, deliveries),
 * `{total, pages, current_page, per_page}` (a scan's reports) or `{pagination: {page, per_page, total_items,
 * total_pages}}` (the user's reports). Missing `page` is derived from `offset`; missing flags from the counts.
 */
export function normalisePage(answer: object): PageInfo {
  const body = answer as AnyPaging;
  const p = body.pagination ?? body;
  const perPage = Math.max(1, int(p.per_page ?? p.limit, 20));
  const total = Math.max(0, int(p.total ?? p.total_items, 0));
  const pages = Math.max(1, int(p.pages ?? p.total_pages, Math.ceil(total / perPage)));
  const offsetPage = typeof p.offset === 'number' ? Math.floor(p.offset / perPage) + 1 : 1;
  const page = Math.max(1, int(p.page ?? p.current_page, offsetPage));
  return {
    page,
    pages,
    perPage,
    total,
    hasNext: typeof p.has_next === 'boolean' ? p.has_next : page < pages,
    hasPrev: typeof p.has_prev === 'boolean' ? p.has_prev : page > 1,
  };
}

/** The `page` of a URL query (pagination state lives in the URL): a positive integer, else 1. */
export function pageFromQuery(search: string): number {
  const raw = new URLSearchParams(search).get('page');
  return raw && /^[1-9]\d{0,8}$/.test(raw) ? Number(raw) : 1;
}

/** `search` with `key` set to `value` (removed when null or empty), keeping the other parameters. */
export function withQuery(search: string, changes: Record<string, string | number | null>): string {
  const params = new URLSearchParams(search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === '') params.delete(key);
    else params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}
