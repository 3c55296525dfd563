import { hoursDetails } from './psychologists.service.js';
import { containsPattern, listPsychologists } from './psychologists.sql.js';
import { workingHoursProblems, type WeeklyInterval } from './working-hours.js';

describe('containsPattern', () => {
  it.each([
    ['berg', '%berg%'],
    ['100%', '%100\\%%'],
    ['a_b', '%a\\_b%'],
    ['back\\slash', '%back\\\\slash%'],
    ['%_\\', '%\\%\\_\\\\%'],
  ])('%j -> %j', (text, pattern) => {
    expect(containsPattern(text)).toBe(pattern);
  });
});

describe('listPsychologists', () => {
  it('passes the search only as a parameter, escaped', () => {
    const { page, count } = listPsychologists("x' OR 1=1 --%", { limit: 20, offset: 40 });
    expect(page.text).not.toContain('OR 1=1');
    expect(page.values).toEqual(["%x' OR 1=1 --\\%%", 20, 40]);
    expect(count.values).toEqual(["%x' OR 1=1 --\\%%"]);
  });

  it('has one text without a search and one with', () => {
    const all = listPsychologists(undefined, { limit: 5, offset: 0 });
    const some = listPsychologists('a', { limit: 5, offset: 0 });
    expect(all.page.name).not.toBe(some.page.name);
    expect(all.page.text).not.toContain('ILIKE');
    expect(all.page.values).toEqual([5, 0]);
    expect(all.count.values).toEqual([]);
  });
});

describe('hoursDetails', () => {
  it("names a weekly interval's problem by its index in the request", () => {
    const weekly: WeeklyInterval[] = [
      { day: 'mon', start: '09:00', end: '12:00' },
      { day: 'tue', start: '09:00', end: '10:00' },
      { day: 'mon', start: '11:00', end: '13:00' },
      { day: 'tue', start: '12:00', end: '11:00' },
    ];
    const problems = workingHoursProblems({ timeZone: 'Nowhere/Else', weekly, overrides: [] });
    expect(hoursDetails(problems, weekly)).toEqual([
      { field: 'timeZone', messages: ['must be an IANA time zone name'] },
      { field: 'weekly[2]', messages: ['overlaps weekly[0]'] },
      { field: 'weekly[3]', messages: ['end must be after start'] },
    ]);
  });
});
