import request from 'supertest';
import { startGateway, TestGateway } from '../support/gateway';

// GET /api/schedule/preview (DASHBOARD.md §5): the next fires of a schedule before it is saved, computed as the
// schedulers compute them, and refused for what saving a definition would refuse.
describe('GET /api/schedule/preview', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway({ localPool: false });
  });
  afterAll(() => gateway.close());

  const preview = (query: string) => gateway.api().get(`/api/schedule/preview${query}`);
  const berlin = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Berlin',
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
  });

  it('lists the next fires of a cron schedule in its time zone, the first being what BullMQ schedules', async () => {
    const cron = encodeURIComponent('0 2 * * 1-5');
    const { body } = await preview(`?cron=${cron}&timezone=Europe/Berlin&count=7`).expect(200);
    expect(body).toMatchObject({
      status: 'success',
      cron: '0 2 * * 1-5',
      timezone: 'Europe/Berlin',
      interval_minutes: null,
    });
    expect(body.next_runs).toHaveLength(7);
    const times = (body.next_runs as string[]).map((t) => Date.parse(t));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times[0]).toBeGreaterThan(Date.now());
    for (const time of times) {
      expect(berlin.format(time)).toMatch(/^(Mon|Tue|Wed|Thu|Fri),? 02:00$/);
    }
    // The same schedule saved: the scheduler BullMQ keeps fires first at the preview's first time.
    const saved = await gateway
      .api()
      .post('/api/scans')
      .send({
        name: 'nightly',
        target: '127.0.182.1',
        cron: '0 2 * * 1-5',
        timezone: 'Europe/Berlin',
        is_scheduled: true,
      })
      .expect(201);
    expect(saved.body.scan.next_run).toBe(body.next_runs[0]);
  });

  it('fires an interval schedule at once, then every interval; five by default', async () => {
    const before = Date.now();
    const { body } = await preview('?interval_minutes=1440').expect(200);
    expect(body).toMatchObject({ interval_minutes: 1440, cron: null, timezone: null });
    const times = (body.next_runs as string[]).map((t) => Date.parse(t));
    expect(times).toHaveLength(5);
    expect(times[0]).toBeGreaterThanOrEqual(before);
    expect(times[0]).toBeLessThanOrEqual(Date.now());
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(86_400_000);
  });

  it.each([
    ['', /Missing required fields/],
    [`?interval_minutes=60&cron=${encodeURIComponent('0 * * * *')}`, /interval_minutes or cron, not both/],
    ['?cron=hourly', /cron must have 5 fields/],
    [`?cron=${encodeURIComponent('61 * * * *')}`, /cron "61 \* \* \* \*" is not valid/],
    [`?cron=${encodeURIComponent('0 2 * * *')}&timezone=Mars/Olympus`, /not an IANA time zone/],
    ['?interval_minutes=0', /interval_minutes must not be less than 1/],
    ['?interval_minutes=1.5', /interval_minutes/],
    ['?interval_minutes=60&count=51', /count must not be greater than 50/],
  ])('refuses %s with a 400 naming the problem', async (query, error) => {
    const { body } = await preview(query).expect(400);
    expect(body.error).toMatch(error);
  });

  it('needs a signed-in user', async () => {
    await request(gateway.url).get('/api/schedule/preview?interval_minutes=5').expect(401);
  });
});
