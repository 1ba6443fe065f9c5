import { describe, expect, it } from 'vitest';
import { type CampaignView, presentCampaign } from '../../src/campaigns/campaign-admin.js';
import { campaignFormValues, loadedField, mergeAfterConflict } from '../../src/console/campaign-form.js';

// A campaign form refused as stale says by each field what the colleague saved and what the editor
// typed, in the console's language (src/console/stale-form.ts, shared with the webhook form).

const stored = (changes: Partial<Parameters<typeof presentCampaign>[0]> = {}): CampaignView =>
  presentCampaign({
    slug: 'spring',
    title: 'Spring drive',
    description: '',
    goal: 500,
    startsAt: new Date('2026-03-01T00:00:00Z'),
    endsAt: new Date('2026-04-01T00:00:00Z'),
    timeZone: 'UTC',
    startingOffset: 0,
    counts: { gifts: true, oneTime: false },
    milestones: [25, 50, 75, 100],
    version: 1,
    ...changes,
  } as Parameters<typeof presentCampaign>[0]);

describe('a stale campaign form', () => {
  // Opened at version 1; a colleague then raised the goal and stopped counting gifts; the editor
  // changed the title and, like the colleague, the goal.
  const opened = campaignFormValues(stored());
  const now = stored({ goal: 600, counts: { gifts: false, oneTime: false }, version: 2 });
  const typed = {
    ...opened,
    title: 'Spring members drive',
    goal: '700',
    loaded: loadedField(opened),
    countsGifts: 'on',
  };

  it('when it comes back in English, then each changed field says who changed what, and the editor keeps their own change', () => {
    const { values, notes } = mergeAfterConflict('en', typed, now);
    expect(notes).toEqual({
      title: 'Your change, not saved yet (it is “Spring drive” now).',
      goal: 'Changed by a colleague to “600”; you typed “700”. Choose one and save.',
      countsGifts: 'Changed by a colleague to “not ticked” (it was “ticked”).',
    });
    expect(values).toMatchObject({ title: 'Spring members drive', goal: '600', countsGifts: false });
  });

  it('when it comes back in Ukrainian, then the notes are Ukrainian', () => {
    const { notes } = mergeAfterConflict('uk', typed, now);
    expect(notes).toEqual({
      title: 'Ваша зміна, ще не збережена (зараз тут «Spring drive»).',
      goal: 'Колега змінив на «600»; ви ввели «700». Оберіть одне й збережіть.',
      countsGifts: 'Колега змінив на «не позначено» (було «позначено»).',
    });
  });
});
