// The one message catalogue: every string a reader reads on a hosted page, in an email's layout or
// in an embed, in each language we speak. Email bodies are whole templates per language
// (templates/emails/<name>/<locale>.*.hbs); their shared strings are here. A message is a string
// with {placeholders}, or plural forms chosen by Intl.PluralRules for its {count}.

import { CONSOLE_EN, CONSOLE_UK } from './console-messages.js';
import { PAGES_EN, PAGES_UK } from './page-messages.js';

export const LOCALES = ['en', 'uk'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';
/** The Intl locale each language formats numbers, money and dates in. */
export const INTL_LOCALE: Record<Locale, string> = { en: 'en-GB', uk: 'uk-UA' };

type Plural = Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };
type Message = string | Plural;

const en = {
  'layout.skip': 'Skip to content',
  'layout.language': 'Language',
  'email.unsubscribe': 'Unsubscribe',
  'email.footer': 'You receive this email because you support independent journalism.',
  'form.problem': 'Please correct the fields marked below.',
  'form.optional': '(optional)',
  'field.email': 'Email',
  'field.name': 'Name',
  'error.email': 'Please enter a correct email address.',
  'error.amountFormat': 'Type an amount like 7.50.',
  'error.amountMissing': 'Type the amount you would like to give.',
  'error.amountRange': 'Choose an amount between {min} and {max}.',
  'error.currency': '{currency} is not offered.',
  'error.plan': 'Choose one of the memberships.',
  'membership.title': 'Become a member',
  'membership.lead': 'Members keep our journalism free for everyone. Cancel any time.',
  'membership.kind': 'How would you like to support us?',
  'membership.kind.membership': 'A membership, monthly or yearly',
  'membership.kind.oneTime': 'A one-time contribution',
  'membership.plan': 'Membership',
  'membership.price': '{month} a month or {year} a year',
  'membership.custom': 'Choose my own amount',
  'membership.amount': 'Amount in {currency}',
  'membership.amountHint':
    'For "choose my own amount" or a one-time contribution, for example {example}. A membership from {min}, a one-time contribution from {oneTimeMin}.',
  'membership.interval': 'How often (memberships)',
  'membership.interval.month': 'Monthly',
  'membership.interval.year': 'Yearly',
  'membership.currency': 'Currency',
  'membership.currencyLinks': 'Show prices in',
  'membership.submit': 'Continue to payment',
  'membership.stripe':
    'Payment is handled by Stripe. Cards (Visa, Mastercard, American Express) and wallets are accepted.',
  'membership.setting.promotionCodes': 'Have a promotion code? You can enter it on the payment page.',
  'membership.setting.tax': 'Prices include any VAT or sales tax due where you live.',
  'membership.setting.taxId': 'Paying as a business? You can add your VAT or tax id on the payment page.',
  'membership.oneTimeName': 'One-time contribution',
  'membership.thanks.title': 'Thank you',
  'membership.thanks.body':
    'Welcome aboard. A confirmation is on its way to your inbox; your membership starts as soon as the payment is confirmed.',
  'gifts.title': 'Gift a membership',
  'gifts.lead': 'Give someone a membership of our newsroom. They get an email on the day you choose.',
  'gifts.howLong': 'How long',
  'gifts.currency': 'Currency',
  'gifts.for': 'For',
  'gifts.theirName': 'Their name',
  'gifts.theirEmail': 'Their email',
  'gifts.message': 'Your message (optional)',
  'gifts.deliverOn': 'Deliver on',
  'gifts.from': 'From',
  'gifts.yourName': 'Your name',
  'gifts.yourEmail': 'Your email (for the receipt)',
  'gifts.showName': 'Tell them the gift is from me',
  'account.signIn.lead': 'Enter the email address of your membership and we will send you a sign-in link.',
  'account.signIn.submit': 'Email me a sign-in link',
  'account.checkEmail.title': 'Check your email',
  'account.checkEmail.hint':
    'The link works once, for {minutes} minutes. Nothing arrived? Check your spam folder, or ask again in a few minutes.',
  'account.verify.title': 'Sign in',
  'account.verify.lead': 'Press the button to sign in to your membership.',
  'account.verify.submit': 'Sign in',
  'gifts.months': { one: '{count} month', other: '{count} months' },
  'gifts.continue.title': 'Continue your membership',
  'gifts.continue.lead':
    'Your gift membership ends on {date}. Choose how you would like to continue: the first payment is taken only when your gift ends.',
  'gifts.continue.submit': 'Continue to payment',
  'newsletters.choose': 'Choose your newsletters',
  'newsletters.submit': 'Sign up',
  'newsletters.confirm.title': 'Confirm your subscription',
  'newsletters.confirm.lead': 'Press the button to start receiving the newsletters you chose.',
  'newsletters.confirm.submit': 'Confirm my subscription',
  'newsletters.preferences.title': 'Your newsletters',
  'newsletters.preferences.from': 'Unsubscribe from',
  'newsletters.preferences.all': 'All newsletters',
  'newsletters.preferences.submit': 'Unsubscribe',
  'newsletters.preferences.none': 'You are not subscribed to any newsletter.',
  'newsletters.resend': 'Send me a new link',
  'newsletters.title': 'Newsletters',
  'account.title': 'Your membership',
  'account.card.title': 'Update your card',
  'account.card.body':
    'Press the button to open the secure Stripe page where you change the card for your membership.',
  'account.card.submit': 'Update my card',
  'embed.goal': { one: '{count} of {goal} new members', other: '{count} of {goal} new members' },
  'embed.daysLeft': { one: '{count} day left', other: '{count} days left' },
  'embed.ended': 'The drive has ended',
  'embed.join': 'Become a member',
  'embed.thanksMember': 'Thank you for being a member',
  'embed.gift': 'Gift a membership',
  'embed.label': 'Progress toward the goal',
  'embed.error': 'Progress is unavailable right now.',
  'embed.notFound': 'This campaign was not found. Check the campaign name in the embed code.',
  // Which signed checkpoint of the drive log the number comes from (src/campaigns/README.md).
  'embed.checkpoint': 'Signed checkpoint {sequence} of the drive log: count {count}, log size {size}.',
  'embed.pending': 'Since then: {change}, not yet signed.',
  'embed.noCheckpoint':
    'The drive log has no signed checkpoint yet: this count can be checked once the first is signed.',
  'embed.supporters': { one: 'All thanks to {count} supporter', other: 'All thanks to {count} supporters' },
  'embed.sponsored': {
    one: '{count} reader sponsored by supporters',
    other: '{count} readers sponsored by supporters',
  },
  'embed.newsletter.legend': 'Newsletters',
  'embed.newsletter.email': 'Email',
  'embed.newsletter.submit': 'Sign up',
  'embed.newsletter.invalid': 'Please enter a correct email address',
  'embed.newsletter.failed': 'Something went wrong. Please try again.',
  'embed.newsletter.thanks':
    "Thank you for signing up for this newsletter. We've sent you a confirmation email.",
  'error.link': 'This link is not valid.',
  'gifts.problem.unknown.heading': 'We could not find this gift',
  'gifts.problem.unknown':
    'Check that you opened the whole link from the gift email. If it still does not work, reply to that email.',
  'gifts.problem.redeemed.heading': 'This gift has already been used',
  'gifts.problem.redeemed':
    'Its membership has started. If that was not you, reply to the gift email and we will help.',
  'gifts.problem.expired.heading': 'This gift has expired',
  'gifts.problem.expired':
    'Gifts must be started within a year. Reply to the gift email and we will see what we can do.',
  'gifts.problem.refunded.heading': 'This gift was cancelled',
  'gifts.problem.refunded': 'The person who gave it cancelled it. Nothing has been charged to you.',
  'gifts.problem.notYet.heading': 'This gift is not ready yet',
  'gifts.problem.notYet': 'It will arrive by email on its delivery day.',
  'gifts.problem.heading': 'We could not start this gift',
  'gifts.problem.deliverOn': 'Choose a delivery date from today up to a year ahead',
  'gifts.redeemed.heading': 'Your membership has started',
  'gifts.redeemed.message': {
    one: 'Welcome! Your {count}-month membership is active. Sign in any time at {url}.',
    other: 'Welcome! Your {count}-month membership is active. Sign in any time at {url}.',
  },
  'gifts.manage.resent': 'We sent the gift email again, with a new link.',
  'gifts.manage.saved': 'Saved.',
  'gifts.problem.delivered': 'This gift has already been delivered.',
  'gifts.problem.notDelivered': 'Only a delivered, unredeemed gift can be sent again.',
  'gifts.problem.checkoutEnded':
    'This checkout ended without payment. Start again (with a new Idempotency-Key) to buy the gift.',
  'gifts.thanks.heading': 'Thank you!',
  'gifts.thanks':
    'Your gift is paid for. A receipt with a link to manage the gift is on its way to your inbox.',
  'gifts.problem.messageLength': 'At most 500 characters',
  'gifts.problem.currency': 'Gifts are not offered in {currency}',
  'newsletters.unknownLists': 'Unknown newsletter: {lists}',
  'newsletters.consent':
    'We will email you the newsletters you chose. Unsubscribe at any time with one click.',
  'newsletters.chooseOne': 'Choose at least one newsletter',
  'newsletters.unknownList': 'Unknown newsletter',
  'newsletters.thanks.heading': 'Thank you!',
  'newsletters.link.expired.heading': 'This link has expired',
  'newsletters.link.invalid.heading': 'This link is not valid',
  'newsletters.link.expired': 'Confirmation links work for a limited time. We can send you a new one.',
  'newsletters.link.invalid': 'Please sign up again from the newsletter form.',
  'newsletters.confirmed.heading': 'You are subscribed',
  'newsletters.confirmed': 'Thank you for confirming. Your first newsletter is on its way soon.',
  'newsletters.alreadyConfirmed.heading': 'Already confirmed',
  'newsletters.alreadyConfirmed': 'You had already confirmed this subscription. Nothing more to do.',
  'newsletters.resent.heading': 'Check your email',
  'newsletters.resent': 'If that link was ours, a new confirmation email is on its way.',
  'newsletters.unsubscribed.heading': 'You are unsubscribed',
  'newsletters.unsubscribed': 'You will no longer receive: {lists}.',
  'newsletters.unsubscribed.none': 'There was nothing to unsubscribe from.',
  'newsletters.unsubscribe.invalid':
    'Open the unsubscribe link from the newsletter email again, whole. If it still does not work, reply to that email.',
  ...PAGES_EN,
  ...CONSOLE_EN,
} satisfies Record<string, Message>;

export type MessageKey = keyof typeof en;

const uk: Record<MessageKey, Message> = {
  'layout.skip': 'Перейти до змісту',
  'layout.language': 'Мова',
  'email.unsubscribe': 'Відписатися',
  'email.footer': 'Ви отримали цей лист, бо підтримуєте незалежну журналістику.',
  'form.problem': 'Будь ласка, виправте позначені нижче поля.',
  'form.optional': '(необов’язково)',
  'field.email': 'Електронна пошта',
  'field.name': 'Ім’я',
  'error.email': 'Введіть правильну адресу електронної пошти.',
  'error.amountFormat': 'Введіть суму, наприклад 7,50.',
  'error.amountMissing': 'Введіть суму, яку хочете внести.',
  'error.amountRange': 'Оберіть суму від {min} до {max}.',
  'error.currency': '{currency} не приймається.',
  'error.plan': 'Оберіть один із варіантів членства.',
  'membership.title': 'Стати членом спільноти',
  'membership.lead':
    'Члени спільноти роблять нашу журналістику доступною для всіх. Скасувати можна будь-коли.',
  'membership.kind': 'Як ви хочете нас підтримати?',
  'membership.kind.membership': 'Членство, щомісяця або щороку',
  'membership.kind.oneTime': 'Разовий внесок',
  'membership.plan': 'Членство',
  'membership.price': '{month} на місяць або {year} на рік',
  'membership.custom': 'Обрати власну суму',
  'membership.amount': 'Сума в {currency}',
  'membership.amountHint':
    'Для власної суми або разового внеску, наприклад {example}. Членство від {min}, разовий внесок від {oneTimeMin}.',
  'membership.interval': 'Як часто (для членства)',
  'membership.interval.month': 'Щомісяця',
  'membership.interval.year': 'Щороку',
  'membership.currency': 'Валюта',
  'membership.currencyLinks': 'Ціни в',
  'membership.submit': 'Перейти до оплати',
  'membership.stripe':
    'Оплату обробляє Stripe. Приймаємо картки (Visa, Mastercard, American Express) і гаманці.',
  'membership.setting.promotionCodes': 'Маєте промокод? Його можна ввести на сторінці оплати.',
  'membership.setting.tax': 'Ціни містять ПДВ чи податок з продажу, що діє там, де ви живете.',
  'membership.setting.taxId': 'Платите як компанія? На сторінці оплати можна додати ваш податковий номер.',
  'membership.oneTimeName': 'Разовий внесок',
  'membership.thanks.title': 'Дякуємо',
  'membership.thanks.body':
    'Ласкаво просимо. Підтвердження вже прямує до вашої скриньки; членство почнеться, щойно платіж буде підтверджено.',
  'gifts.title': 'Подарувати членство',
  'gifts.lead': 'Подаруйте комусь членство в нашій редакції. Лист прийде в день, який ви оберете.',
  'gifts.howLong': 'Тривалість',
  'gifts.currency': 'Валюта',
  'gifts.for': 'Кому',
  'gifts.theirName': 'Ім’я отримувача',
  'gifts.theirEmail': 'Електронна пошта отримувача',
  'gifts.message': 'Ваше повідомлення (необов’язково)',
  'gifts.deliverOn': 'Дата доставки',
  'gifts.from': 'Від кого',
  'gifts.yourName': 'Ваше ім’я',
  'gifts.yourEmail': 'Ваша електронна пошта (для квитанції)',
  'gifts.showName': 'Повідомити, що подарунок від мене',
  'account.signIn.lead':
    'Введіть адресу електронної пошти вашого членства, і ми надішлемо посилання для входу.',
  'account.signIn.submit': 'Надіслати посилання для входу',
  'account.checkEmail.title': 'Перевірте пошту',
  'account.checkEmail.hint':
    'Посилання діє один раз протягом {minutes} хвилин. Нічого не прийшло? Перевірте спам або спробуйте ще раз за кілька хвилин.',
  'account.verify.title': 'Вхід',
  'account.verify.lead': 'Натисніть кнопку, щоб увійти до свого членства.',
  'account.verify.submit': 'Увійти',
  'gifts.continue.title': 'Продовжити членство',
  'gifts.continue.lead':
    'Ваше подароване членство закінчується {date}. Оберіть, як продовжити: перший платіж буде списано лише після завершення подарунка.',
  'gifts.continue.submit': 'Перейти до оплати',
  'gifts.months': {
    one: '{count} місяць',
    few: '{count} місяці',
    many: '{count} місяців',
    other: '{count} місяця',
  },
  'newsletters.choose': 'Оберіть розсилки',
  'newsletters.submit': 'Підписатися',
  'newsletters.confirm.title': 'Підтвердіть підписку',
  'newsletters.confirm.lead': 'Натисніть кнопку, щоб почати отримувати обрані розсилки.',
  'newsletters.confirm.submit': 'Підтвердити підписку',
  'newsletters.preferences.title': 'Ваші розсилки',
  'newsletters.preferences.from': 'Відписатися від',
  'newsletters.preferences.all': 'Усіх розсилок',
  'newsletters.preferences.submit': 'Відписатися',
  'newsletters.preferences.none': 'Ви не підписані на жодну розсилку.',
  'newsletters.resend': 'Надіслати нове посилання',
  'newsletters.title': 'Розсилки',
  'account.title': 'Ваше членство',
  'account.card.title': 'Оновити картку',
  'account.card.body':
    'Натисніть кнопку, щоб відкрити захищену сторінку Stripe, де можна змінити картку для членства.',
  'account.card.submit': 'Оновити картку',
  'embed.goal': {
    one: '{count} з {goal} нових членів',
    few: '{count} з {goal} нових членів',
    many: '{count} з {goal} нових членів',
    other: '{count} з {goal} нових членів',
  },
  'embed.daysLeft': {
    one: 'Залишився {count} день',
    few: 'Залишилося {count} дні',
    many: 'Залишилося {count} днів',
    other: 'Залишилося {count} дня',
  },
  'embed.ended': 'Кампанію завершено',
  'embed.join': 'Стати членом спільноти',
  'embed.thanksMember': 'Дякуємо, що ви член нашої спільноти',
  'embed.gift': 'Подарувати членство',
  'embed.label': 'Поступ до мети',
  'embed.error': 'Дані тимчасово недоступні.',
  'embed.notFound': 'Кампанію не знайдено. Перевірте назву кампанії в коді вставки.',
  'embed.checkpoint':
    'Підписана контрольна точка {sequence} журналу кампанії: кількість {count}, розмір журналу {size}.',
  'embed.pending': 'Відтоді: {change}, ще не підписано.',
  'embed.noCheckpoint':
    'Журнал кампанії ще не має підписаної контрольної точки: перевірити цю кількість можна буде після першої.',
  'embed.supporters': {
    one: 'Усе завдяки {count} прихильнику',
    few: 'Усе завдяки {count} прихильникам',
    many: 'Усе завдяки {count} прихильникам',
    other: 'Усе завдяки {count} прихильника',
  },
  'embed.sponsored': {
    one: '{count} читачеві членство оплатили прихильники',
    few: '{count} читачам членство оплатили прихильники',
    many: '{count} читачам членство оплатили прихильники',
    other: '{count} читача членство оплатили прихильники',
  },
  'embed.newsletter.legend': 'Розсилки',
  'embed.newsletter.email': 'Електронна пошта',
  'embed.newsletter.submit': 'Підписатися',
  'embed.newsletter.invalid': 'Введіть правильну адресу електронної пошти',
  'embed.newsletter.failed': 'Щось пішло не так. Спробуйте ще раз.',
  'embed.newsletter.thanks': 'Дякуємо за підписку. Ми надіслали вам лист для підтвердження.',
  'error.link': 'Це посилання недійсне.',
  'gifts.problem.unknown.heading': 'Ми не знайшли цей подарунок',
  'gifts.problem.unknown':
    'Перевірте, що ви відкрили повне посилання з листа про подарунок. Якщо це не допомогло, дайте відповідь на той лист.',
  'gifts.problem.redeemed.heading': 'Цей подарунок уже використано',
  'gifts.problem.redeemed':
    'Членство за ним уже почалося. Якщо це були не ви, дайте відповідь на лист про подарунок, і ми допоможемо.',
  'gifts.problem.expired.heading': 'Термін дії цього подарунка минув',
  'gifts.problem.expired':
    'Подарунок треба активувати протягом року. Дайте відповідь на лист про подарунок, і ми подивимося, що можна зробити.',
  'gifts.problem.refunded.heading': 'Цей подарунок скасовано',
  'gifts.problem.refunded': 'Людина, яка його подарувала, скасувала подарунок. З вас нічого не списано.',
  'gifts.problem.notYet.heading': 'Цей подарунок ще не готовий',
  'gifts.problem.notYet': 'Він надійде електронною поштою в день доставки.',
  'gifts.problem.heading': 'Не вдалося активувати цей подарунок',
  'gifts.problem.deliverOn': 'Оберіть дату доставки: від сьогодні до року наперед',
  'gifts.redeemed.heading': 'Ваше членство почалося',
  'gifts.redeemed.message': {
    one: 'Вітаємо! Ваше членство на {count} місяць активне. Увійти можна будь-коли на {url}.',
    few: 'Вітаємо! Ваше членство на {count} місяці активне. Увійти можна будь-коли на {url}.',
    many: 'Вітаємо! Ваше членство на {count} місяців активне. Увійти можна будь-коли на {url}.',
    other: 'Вітаємо! Ваше членство на {count} місяця активне. Увійти можна будь-коли на {url}.',
  },
  'gifts.manage.resent': 'Ми знову надіслали лист про подарунок, з новим посиланням.',
  'gifts.manage.saved': 'Збережено.',
  'gifts.problem.delivered': 'Цей подарунок уже доставлено.',
  'gifts.problem.notDelivered': 'Надіслати ще раз можна лише доставлений і ще не використаний подарунок.',
  'gifts.problem.checkoutEnded':
    'Ця оплата завершилася без платежу. Почніть знову (з новим Idempotency-Key), щоб купити подарунок.',
  'gifts.thanks.heading': 'Дякуємо!',
  'gifts.thanks':
    'Подарунок оплачено. Квитанція з посиланням для керування подарунком уже прямує до вашої скриньки.',
  'gifts.problem.messageLength': 'Не більше 500 символів',
  'gifts.problem.currency': 'Подарунки в {currency} не продаються',
  'newsletters.unknownLists': 'Невідома розсилка: {lists}',
  'newsletters.consent':
    'Ми надсилатимемо вам обрані розсилки. Відписатися можна будь-коли одним натисканням.',
  'newsletters.chooseOne': 'Оберіть принаймні одну розсилку',
  'newsletters.unknownList': 'Невідома розсилка',
  'newsletters.thanks.heading': 'Дякуємо!',
  'newsletters.link.expired.heading': 'Термін дії посилання минув',
  'newsletters.link.invalid.heading': 'Це посилання недійсне',
  'newsletters.link.expired': 'Посилання для підтвердження діють обмежений час. Ми можемо надіслати нове.',
  'newsletters.link.invalid': 'Підпишіться ще раз через форму розсилки.',
  'newsletters.confirmed.heading': 'Ви підписані',
  'newsletters.confirmed': 'Дякуємо за підтвердження. Перша розсилка незабаром надійде.',
  'newsletters.alreadyConfirmed.heading': 'Уже підтверджено',
  'newsletters.alreadyConfirmed': 'Ви вже підтвердили цю підписку. Більше нічого робити не треба.',
  'newsletters.resent.heading': 'Перевірте пошту',
  'newsletters.resent': 'Якщо це посилання наше, новий лист для підтвердження вже в дорозі.',
  'newsletters.unsubscribed.heading': 'Ви відписалися',
  'newsletters.unsubscribed': 'Ви більше не отримуватимете: {lists}.',
  'newsletters.unsubscribed.none': 'Не було від чого відписуватися.',
  'newsletters.unsubscribe.invalid':
    'Відкрийте посилання для відписки з листа розсилки ще раз, повністю. Якщо це не допомогло, дайте відповідь на той лист.',
  ...PAGES_UK,
  ...CONSOLE_UK,
};

export const MESSAGES: Record<Locale, Record<MessageKey, Message>> = { en, uk };

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

export function isMessageKey(value: string): value is MessageKey {
  return Object.hasOwn(en, value);
}

const pluralRules = new Map<Locale, Intl.PluralRules>();
function pluralOf(locale: Locale, count: number): Intl.LDMLPluralRule {
  let rules = pluralRules.get(locale);
  if (!rules) {
    rules = new Intl.PluralRules(INTL_LOCALE[locale]);
    pluralRules.set(locale, rules);
  }
  return rules.select(count);
}

/** The message in this language with its {placeholders} filled; plural forms follow {count}. */
export function translate(
  locale: Locale,
  key: MessageKey,
  vars: Record<string, string | number> = {},
): string {
  const message = MESSAGES[locale][key] ?? MESSAGES[DEFAULT_LOCALE][key];
  const text =
    typeof message === 'string'
      ? message
      : (message[pluralOf(locale, Number(vars.count ?? 0))] ?? message.other);
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = vars[name];
    if (value === undefined) return whole;
    return typeof value === 'number' ? new Intl.NumberFormat(INTL_LOCALE[locale]).format(value) : value;
  });
}

/**
 * Errors carry their message in English, the API's documented language; a page shows the same
 * message in the reader's. English text that is a catalogue message (without placeholders) comes
 * back in `locale`; any other text comes back as it is.
 */
export function inLocale(locale: Locale, english: string): string {
  const key = keyOfEnglish.get(english);
  return key ? translate(locale, key) : english;
}
const keyOfEnglish = new Map(
  (Object.entries(en) as [MessageKey, Message][])
    .filter((entry): entry is [MessageKey, string] => typeof entry[1] === 'string' && !entry[1].includes('{'))
    .map(([key, text]) => [text, key]),
);

/** A button script (templates/embed/membership-button.js) with its label in every language. */
export function buttonScript(script: string, label: MessageKey): string {
  const labels = Object.fromEntries(LOCALES.map((l) => [l, translate(l, label)]));
  return script.replace("/*@LABELS@*/ { en: 'Become a member' }", JSON.stringify(labels));
}

/** The messages whose keys start with `prefix` (an embed's strings, sent to the browser as they are). */
export function messagesFor(prefix: string): Record<Locale, Record<string, Message>> {
  const pick = (locale: Locale) =>
    Object.fromEntries(Object.entries(MESSAGES[locale]).filter(([key]) => key.startsWith(prefix)));
  return { en: pick('en'), uk: pick('uk') };
}

/** Money in minor units shown as a reader of this language expects it: "€7.50", "7,50 €". */
export function formatMoney(amountMinor: number, currency: string, locale: string): string {
  const format = new Intl.NumberFormat(INTL_LOCALE[locale as Locale] ?? INTL_LOCALE.en, {
    style: 'currency',
    currency,
  });
  return format.format(amountMinor / 10 ** fractionDigits(currency));
}

/** How many minor units a currency's unit has, as powers of ten (2 for EUR, 0 for JPY). */
export function fractionDigits(currency: string): number {
  return (
    new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2
  );
}

/**
 * An amount as a person types it in currency units ("7.50", "7,5", "12") as integer minor units,
 * without floating point; undefined when it is not such a number.
 */
export function parseAmountInUnits(text: string, currency: string): number | undefined {
  const digits = fractionDigits(currency);
  const match = /^(\d{1,9})(?:[.,](\d*))?$/.exec(text.trim().replace(/[\s\u00a0\u202f]/g, ''));
  if (!match) return undefined;
  const fraction = match[2] ?? '';
  if (fraction.length > digits) return undefined;
  return Number(match[1]) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0');
}
