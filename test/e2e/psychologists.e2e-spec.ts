import { loginAdmin, registerUser, type TestUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

/**
 * The directory and profiles (PRODUCT.md section 11): GET /api/psychologists lists psychologists
 * by name with a case-insensitive name search and paging; PATCH /api/psychologists/me edits the
 * caller's own profile, psychologists only.
 */
describe('psychologist directory and profiles', () => {
  let t: TestApp;
  let client: TestUser;
  let admin: TestUser;
  /** By name: the names are chosen so that the order and the searches are known. */
  const NAMES = [
    'Ada Berg',
    'ada bergman',
    'Bea 100% Sure',
    'Carl_Under',
    'Dora \\ Slash',
    'Emil Bergson',
    'Zed Young',
  ];
  const psychologists = new Map<string, TestUser>();

  beforeAll(async () => {
    t = await startTestApp();
    [client, admin] = await Promise.all([registerUser(t, 'client'), loginAdmin(t)]);
    for (const name of NAMES) {
      psychologists.set(name, await registerUser(t, 'psychologist', { name }));
    }
    // A client whose name matches a search: never in the directory.
    await registerUser(t, 'client', { name: 'Berg the Client' });
  });
  afterAll(() => t.close());

  const list = (query: string, who: TestUser = client) =>
    t.api.get(`/api/psychologists${query}`).set('Authorization', who.auth);
  const names = (body: { items: Array<{ name: string }> }) => body.items.map((i) => i.name);
  /** PostgreSQL's order of the names (the database's collation decides, as for the list). */
  async function sorted(subset: string[]): Promise<string[]> {
    const rows: Array<{ n: string }> = await t.dataSource.query(
      `SELECT n FROM unnest($1::text[]) AS n ORDER BY n`,
      [subset],
    );
    return rows.map((r) => r.n);
  }

  it('lists every psychologist by name with their profile, to any signed-in user', async () => {
    for (const who of [client, admin, psychologists.get('Ada Berg')!]) {
      const res = await list('', who);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ total: NAMES.length, page: 1, limit: 20 });
      expect(names(res.body)).toEqual(await sorted(NAMES));
    }
    const res = await list('');
    const ada = psychologists.get('Ada Berg')!;
    expect(res.body.items.find((i: { id: string }) => i.id === ada.id)).toEqual({
      id: ada.id,
      name: 'Ada Berg',
      bio: null,
      timeZone: 'UTC',
    });
  });

  it('searches the name as a case-insensitive substring', async () => {
    const res = await list('?search=BERG');
    expect(res.status).toBe(200);
    expect(names(res.body)).toEqual(await sorted(['Ada Berg', 'ada bergman', 'Emil Bergson']));
    expect(res.body.total).toBe(3);
    expect((await list('?search=nobody-has-this')).body).toEqual({
      items: [],
      total: 0,
      page: 1,
      limit: 20,
    });
  });

  it.each([
    ['%', ['Bea 100% Sure']],
    ['_', ['Carl_Under']],
    ['\\', ['Dora \\ Slash']],
    ['0%', ['Bea 100% Sure']],
    ['l_U', ['Carl_Under']],
    ['a%b', []],
    ['a_b', []],
  ])('takes the LIKE wildcard characters of %j literally', async (search, expected) => {
    const res = await list(`?search=${encodeURIComponent(search)}`);
    expect(res.status).toBe(200);
    expect(names(res.body)).toEqual(expected);
    expect(res.body.total).toBe(expected.length);
  });

  it('pages through the directory with a total, in a stable order', async () => {
    const all = await sorted(NAMES);
    const seen: string[] = [];
    for (let page = 1; page <= 4; page++) {
      const res = await list(`?page=${page}&limit=2`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ total: NAMES.length, page, limit: 2 });
      seen.push(...names(res.body));
    }
    expect(seen).toEqual(all);
    const search = await list('?search=berg&page=2&limit=2');
    expect(search.body).toMatchObject({ total: 3, page: 2, limit: 2 });
    expect(names(search.body)).toEqual(
      (await sorted(['Ada Berg', 'ada bergman', 'Emil Bergson'])).slice(2),
    );
  });

  it('orders equal names by id', async () => {
    const twins = [
      await registerUser(t, 'psychologist', { name: 'Twin Same' }),
      await registerUser(t, 'psychologist', { name: 'Twin Same' }),
    ];
    const res = await list('?search=twin%20same');
    expect(res.body.items.map((i: { id: string }) => i.id)).toEqual(twins.map((u) => u.id).sort());
    await t.dataSource.query(`DELETE FROM users WHERE name = 'Twin Same'`);
  });

  it.each([
    ['limit over 100', '?limit=101'],
    ['limit 0', '?limit=0'],
    ['page 0', '?page=0'],
    ['a word for a page', '?page=two'],
    ['an empty search', '?search='],
    ['a blank search', '?search=%20%20'],
    ['a search over 100 characters', `?search=${'x'.repeat(101)}`],
    ['an unknown parameter', '?sort=name'],
  ])('refuses %s with 400', async (_label, query) => {
    expectError(await list(query), 400, 'VALIDATION_FAILED');
  });

  it('needs a token', async () => {
    expectError(await t.api.get('/api/psychologists'), 401, 'UNAUTHENTICATED');
  });

  describe('PATCH /api/psychologists/me', () => {
    const patch = (who: TestUser, body: object) =>
      t.api.patch('/api/psychologists/me').set('Authorization', who.auth).send(body);

    it('a psychologist edits their name, bio and zone; the directory shows it', async () => {
      const me = await registerUser(t, 'psychologist', { name: 'Fresh Face' });
      const res = await patch(me, {
        name: '  Frida Face ',
        bio: 'Sleep and anxiety.',
        timeZone: 'europe/berlin',
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        id: me.id,
        name: 'Frida Face',
        bio: 'Sleep and anxiety.',
        timeZone: 'Europe/Berlin',
      });
      // A partial edit leaves the rest; null clears the bio.
      const partial = await patch(me, { bio: null });
      expect(partial.body).toEqual({
        id: me.id,
        name: 'Frida Face',
        bio: null,
        timeZone: 'Europe/Berlin',
      });
      expect((await patch(me, {})).body).toEqual(partial.body);
      const found = await list('?search=frida');
      expect(found.body.items).toEqual([partial.body]);
      await t.dataSource.query(`DELETE FROM users WHERE id = $1`, [me.id]);
    });

    it('a bio of 2000 characters is taken', async () => {
      const me = await registerUser(t, 'psychologist');
      const res = await patch(me, { bio: 'b'.repeat(2000) });
      expect(res.status).toBe(200);
      expect(res.body.bio).toHaveLength(2000);
      await t.dataSource.query(`DELETE FROM users WHERE id = $1`, [me.id]);
    });

    it.each([
      ['a client', () => client],
      ['an admin', () => admin],
    ])('%s gets 403 FORBIDDEN and nothing changes', async (_label, who) => {
      const before = await t.dataSource.query(`SELECT id, name, bio, time_zone FROM users`);
      expectError(await patch(who(), { name: 'Taken Over' }), 403, 'FORBIDDEN');
      expect(await t.dataSource.query(`SELECT id, name, bio, time_zone FROM users`)).toEqual(
        before,
      );
    });

    it('checks the body before the role: a bad body is 400 for anyone', async () => {
      expectError(await patch(client, { timeZone: 42 }), 400, 'VALIDATION_FAILED');
    });

    it.each([
      ['an unknown zone', { timeZone: 'Mars/Olympus' }, 'timeZone'],
      ['an offset for a zone', { timeZone: '+02:00' }, 'timeZone'],
      ['an empty zone', { timeZone: '' }, 'timeZone'],
      ['a bio over 2000 characters', { bio: 'b'.repeat(2001) }, 'bio'],
      ['a blank name', { name: '   ' }, 'name'],
      ['a name over 100 characters', { name: 'n'.repeat(101) }, 'name'],
      ['a null name', { name: null }, 'name'],
      ['a name on two lines', { name: 'Two\nLines' }, 'name'],
      ['an unknown field', { role: 'admin' }, 'role'],
    ])('refuses %s with 400, naming the field', async (_label, body, field) => {
      const me = psychologists.get('Zed Young')!;
      const res = await patch(me, body);
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
      const [row] = await t.dataSource.query(
        `SELECT name, bio, time_zone FROM users WHERE id = $1`,
        [me.id],
      );
      expect(row).toEqual({ name: 'Zed Young', bio: null, time_zone: 'UTC' });
    });

    it('needs a token', async () => {
      expectError(await t.api.patch('/api/psychologists/me').send({}), 401, 'UNAUTHENTICATED');
    });
  });
});
