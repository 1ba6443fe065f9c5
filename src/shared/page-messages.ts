// Reader pages' part of the one message catalogue (messages.ts spreads it into each language): the
// sponsorship pages, the signed-in account page, a gift's manage and redeem pages and the page that
// checks a drive's count (keys `verify.script.` are sent to its script as data). English first; the
// type makes the Ukrainian entry required.

type Plural = Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };
type Message = string | Plural;

export const PAGES_EN = {
  // Each language's own name, the same in every language (the language links and pickers).
  'language.en': 'English',
  'language.uk': 'Українська',
  'form.honeypot': 'Leave this empty',
  'sponsorship.title': 'A sponsored membership',
  'sponsorship.request.title': 'Ask for a sponsored membership',
  'sponsorship.request.lead':
    'Our supporters pay for memberships for readers who cannot: students, readers in occupied or front-line regions, anyone for whom it is too much right now. Tell us a little; we will confirm your address by email and write to you when your request is decided. Nobody who sponsors you learns who you are.',
  'sponsorship.request.reason': 'Why you are asking (a sentence is enough)',
  'sponsorship.request.country': 'Country (two letters, e.g. UA)',
  'sponsorship.request.language': 'Language for our emails',
  'sponsorship.request.submit': 'Ask',
  'sponsorship.request.sent':
    'Thank you. If this address can receive email, we have sent a link to confirm your request.',
  'sponsorship.confirm.title': 'Confirm your request',
  'sponsorship.confirm.lead':
    'Press the button to confirm that this address is yours and that you asked for a sponsored membership.',
  'sponsorship.confirm.submit': 'Confirm my request',
  'sponsorship.confirmed': 'Thank you: your request is confirmed. We will write to you when it is decided.',
  'account.status': 'Status',
  'account.status.active': 'active',
  'account.status.past_due': 'past due',
  'account.status.paused': 'paused',
  'account.status.canceled': 'canceled',
  'account.status.expired': 'expired',
  'account.plan': 'Plan',
  'account.plan.month': '{plan}, monthly',
  'account.plan.year': '{plan}, yearly',
  'account.amount': 'Amount',
  'account.nextPayment': 'Next payment',
  'account.ends': 'Membership ends',
  'account.paused':
    'Your membership is paused: nothing is charged while it is. It starts again when your payments resume.',
  'account.billing': 'Change card or cancel',
  'account.receipts.title': 'You are one of the count',
  'account.receipts.lead':
    'Each campaign you counted toward logged your membership as an anonymous entry. Your receipt proves it is there; nobody else can link the entry to you.',
  'account.receipts.check': 'Check it',
  'account.receipts.promise': "The newsroom's signed promise",
  'account.receipts.promiseLead':
    'Keep this text: the newsroom signed that your entry is in its public log by the time it names. If it is not, this promise is proof.',
  'account.signOut': 'Sign out',
  'account.signOutEverywhere.lead':
    'Signed in on a computer or phone you no longer use? This signs you out on every device.',
  'account.signOutEverywhere': 'Sign out everywhere',
  'gifts.manage.title': 'Your gift for {name}',
  'gifts.manage.status': 'Status',
  'gifts.manage.recipient': 'Recipient',
  'gifts.manage.delivery': 'Delivery',
  'gifts.manage.recipientEmail': 'Recipient email',
  'gifts.manage.save': 'Save',
  'gifts.manage.resend': 'Send the gift email again',
  'gifts.status.pending_payment': 'pending payment',
  'gifts.status.paid': 'paid',
  'gifts.status.delivered': 'delivered',
  'gifts.status.redeemed': 'redeemed',
  'gifts.status.expired': 'expired',
  'gifts.status.refunded': 'refunded',
  'gifts.redeem.heading': 'A gift for you, {name}',
  'gifts.redeem.offer': { one: 'A {count}-month membership.', other: 'A {count}-month membership.' },
  'gifts.redeem.offerFrom': {
    one: 'A {count}-month membership from {from}.',
    other: 'A {count}-month membership from {from}.',
  },
  'gifts.redeem.email': 'Your email',
  'gifts.redeem.submit': 'Start my membership',
  'verify.title': 'Check the count: {title}',
  'verify.heading': 'Check the count',
  'verify.lead':
    "This page checks the published count in your own browser, with the newsroom's public keys and the proofs anyone can download. The starting number (members counted before this log existed) and every change to it are entries of the log too, each with its reason, date and who made it (hashed): they are shown below. That those members exist is the newsroom's word; that the number moved, by how much and when, is not.",
  'verify.receipt': 'Your receipt (optional; from your welcome email or account page)',
  'verify.receiptPlaceholder': 'record~salt',
  'verify.promise': "The newsroom's signed promise (optional; from your account page)",
  'verify.submit': 'Check',
  'verify.count': 'Published count',
  'verify.proven': 'Proven by the log',
  'verify.offset': 'Starting number (the sum of its entries in the log)',
  'verify.checkpoint': 'Latest signed checkpoint',
  'verify.log': 'Log (its checkpoints are signed notes under this name)',
  'verify.noscript':
    'This check runs in your browser and needs JavaScript. Without it, run this from the service’s public repository:',
  'verify.saved':
    'Saved from {service} on {savedAt}. This copy checks the log with its own code and the keys pinned in it: {vkeys}',
  'verify.save': 'Save this page to check without us',
  'verify.saveLead':
    ': one file, the keys pinned in it, that checks the count from your disk with code the newsroom cannot change.',
  'verify.script.checking': 'Checking…',
  'verify.script.failedToRun': 'The check could not run: {error}',
  'verify.script.verified': 'The count is verified',
  'verify.script.notVerified': 'The count could not be verified',
  'verify.script.proven': '{additions} counted − {revocations} taken back = {total}',
  'verify.script.checkpoint': {
    one: 'number {sequence}, {count} entry, signed {time}',
    other: 'number {sequence}, {count} entries, signed {time}',
  },
  'verify.script.promiseAt': ' (entry {index}, by {time})',
  'verify.script.memoryOff':
    'This browser gives this page no storage, so it remembers nothing: every check here is a first check, trusting only the keys pinned in the page.',
  'verify.script.offsets.all':
    'The starting number’s entries in the log (the first one and each change to it):',
  'verify.script.offsets.changed':
    'The starting number changed since this browser last checked (checkpoint {sequence}):',
  'verify.script.offsets.unchanged':
    'The starting number has not changed since this browser last checked (checkpoint {sequence}).',
  'verify.script.offsets.entry': '{amount} (reason: “{reason}”) on {time}, by staff {staff}, entry {index}',
  'verify.script.offsets.unknownDate': 'an unknown date',
  'verify.script.receipt.verified': 'Your receipt is verified: your membership is counted in this log.',
  'verify.script.receipt.revoked': 'Your receipt is in the log, and was later taken back (a refund).',
  'verify.script.receipt.pending':
    'Your receipt is logged; the next signed checkpoint (within the hour) will include it.',
  'verify.script.receipt.not_found': 'Your receipt was not found in this campaign’s log.',
  'verify.script.receipt.invalid':
    'This does not look like a receipt: it is a record id, a ~ and 64 hexadecimal characters.',
  'verify.script.receipt.unchecked':
    'The log itself did not verify, so the receipt could not be checked against it.',
  'verify.script.promise.kept':
    'The newsroom kept its promise: your entry is in a signed checkpoint at the place it promised, in time.',
  'verify.script.promise.pending':
    'The promise is not due yet: a signed checkpoint must hold your entry by the time it names.',
  'verify.script.promise.broken':
    'Refused: the newsroom broke its signed promise: your entry is not where it promised, by the time it promised. Keep the promise: it is proof.',
  'verify.script.promise.invalid': 'This promise is not one of this log, or not the one of your receipt.',
  'verify.script.promise.unchecked':
    'The log itself did not verify, so the promise could not be checked against it.',
  'verify.script.refusal.rollback': 'Refused: the log went back since this browser last checked it',
  'verify.script.refusal.fork': 'Refused: this is not the log this browser checked before (it forked)',
  'verify.script.refusal.key_change':
    'Refused: the newest checkpoint is not signed by the key this browser pinned',
  'verify.script.refusal.broken_promise': 'Refused: the log broke its signed promise for your entry',
} satisfies Record<string, Message>;

export type PageMessageKey = keyof typeof PAGES_EN;

export const PAGES_UK: Record<PageMessageKey, Message> = {
  'language.en': 'English',
  'language.uk': 'Українська',
  'form.honeypot': 'Залиште це поле порожнім',
  'sponsorship.title': 'Членство, оплачене прихильниками',
  'sponsorship.request.title': 'Попросити членство, оплачене прихильниками',
  'sponsorship.request.lead':
    'Наші прихильники оплачують членство читачам, які не можуть заплатити самі: студентам, читачам на окупованих чи прифронтових територіях, усім, для кого це зараз завелика сума. Розкажіть трохи про себе; ми підтвердимо вашу адресу електронною поштою і напишемо, коли ухвалимо рішення щодо вашого запиту. Ніхто з тих, хто оплачує ваше членство, не дізнається, хто ви.',
  'sponsorship.request.reason': 'Чому ви просите (достатньо одного речення)',
  'sponsorship.request.country': 'Країна (дві літери, наприклад UA)',
  'sponsorship.request.language': 'Мова наших листів',
  'sponsorship.request.submit': 'Попросити',
  'sponsorship.request.sent':
    'Дякуємо. Якщо ця адреса може отримувати пошту, ми надіслали на неї посилання для підтвердження запиту.',
  'sponsorship.confirm.title': 'Підтвердіть запит',
  'sponsorship.confirm.lead':
    'Натисніть кнопку, щоб підтвердити, що це ваша адреса і що ви просили членство, оплачене прихильниками.',
  'sponsorship.confirm.submit': 'Підтвердити запит',
  'sponsorship.confirmed': 'Дякуємо: ваш запит підтверджено. Ми напишемо вам, коли ухвалимо рішення.',
  'account.status': 'Стан',
  'account.status.active': 'активне',
  'account.status.past_due': 'платіж прострочено',
  'account.status.paused': 'призупинене',
  'account.status.canceled': 'скасоване',
  'account.status.expired': 'завершене',
  'account.plan': 'Рівень',
  'account.plan.month': '{plan}, щомісяця',
  'account.plan.year': '{plan}, щороку',
  'account.amount': 'Сума',
  'account.nextPayment': 'Наступний платіж',
  'account.ends': 'Членство закінчується',
  'account.paused':
    'Ваше членство призупинене: поки так, з вас нічого не списується. Воно відновиться, щойно відновляться платежі.',
  'account.billing': 'Змінити картку або скасувати',
  'account.receipts.title': 'Ви — серед тих, кого пораховано',
  'account.receipts.lead':
    'Кожна кампанія, до підрахунку якої ви ввійшли, записала ваше членство в журнал як анонімний запис. Ваша квитанція доводить, що він там є; ніхто інший не може пов’язати цей запис із вами.',
  'account.receipts.check': 'Перевірити',
  'account.receipts.promise': 'Підписана обіцянка редакції',
  'account.receipts.promiseLead':
    'Збережіть цей текст: редакція підписала, що ваш запис з’явиться в її публічному журналі до зазначеного часу. Якщо його там не буде, ця обіцянка — доказ.',
  'account.signOut': 'Вийти',
  'account.signOutEverywhere.lead':
    'Ви входили на комп’ютері чи телефоні, яким більше не користуєтеся? Ця кнопка виводить вас з усіх пристроїв.',
  'account.signOutEverywhere': 'Вийти на всіх пристроях',
  'gifts.manage.title': 'Ваш подарунок для {name}',
  'gifts.manage.status': 'Стан',
  'gifts.manage.recipient': 'Отримувач',
  'gifts.manage.delivery': 'Доставка',
  'gifts.manage.recipientEmail': 'Електронна пошта отримувача',
  'gifts.manage.save': 'Зберегти',
  'gifts.manage.resend': 'Надіслати лист про подарунок ще раз',
  'gifts.status.pending_payment': 'очікує оплати',
  'gifts.status.paid': 'оплачено',
  'gifts.status.delivered': 'доставлено',
  'gifts.status.redeemed': 'активовано',
  'gifts.status.expired': 'термін дії минув',
  'gifts.status.refunded': 'кошти повернуто',
  'gifts.redeem.heading': 'Подарунок для вас, {name}',
  'gifts.redeem.offer': {
    one: 'Членство на {count} місяць.',
    few: 'Членство на {count} місяці.',
    many: 'Членство на {count} місяців.',
    other: 'Членство на {count} місяця.',
  },
  'gifts.redeem.offerFrom': {
    one: 'Членство на {count} місяць від {from}.',
    few: 'Членство на {count} місяці від {from}.',
    many: 'Членство на {count} місяців від {from}.',
    other: 'Членство на {count} місяця від {from}.',
  },
  'gifts.redeem.email': 'Ваша електронна пошта',
  'gifts.redeem.submit': 'Почати членство',
  'verify.title': 'Перевірити підрахунок: {title}',
  'verify.heading': 'Перевірити підрахунок',
  'verify.lead':
    'Ця сторінка перевіряє опубліковану кількість просто у вашому браузері, за публічними ключами редакції та доказами, які може завантажити будь-хто. Початкове число (члени спільноти, пораховані до появи цього журналу) і кожна його зміна теж є записами журналу, кожен із причиною, датою та автором (у вигляді хешу): їх показано нижче. Що ці члени спільноти існують — слово редакції; а те, що число змінилося, на скільки й коли, — ні.',
  'verify.receipt': 'Ваша квитанція (необов’язково; з вітального листа або сторінки вашого членства)',
  'verify.receiptPlaceholder': 'запис~сіль',
  'verify.promise': 'Підписана обіцянка редакції (необов’язково; зі сторінки вашого членства)',
  'verify.submit': 'Перевірити',
  'verify.count': 'Опублікована кількість',
  'verify.proven': 'Підтверджено журналом',
  'verify.offset': 'Початкове число (сума його записів у журналі)',
  'verify.checkpoint': 'Остання підписана контрольна точка',
  'verify.log': 'Журнал (його контрольні точки — підписані нотатки під цією назвою)',
  'verify.noscript':
    'Ця перевірка працює у вашому браузері й потребує JavaScript. Без нього виконайте цю команду з публічного репозиторію сервісу:',
  'verify.saved':
    'Збережено з {service} {savedAt}. Ця копія перевіряє журнал власним кодом і закріпленими в ній ключами: {vkeys}',
  'verify.save': 'Зберегти цю сторінку, щоб перевіряти без нас',
  'verify.saveLead':
    ': один файл із закріпленими в ньому ключами, що перевіряє підрахунок з вашого диска кодом, якого редакція не може змінити.',
  'verify.script.checking': 'Перевіряємо…',
  'verify.script.failedToRun': 'Не вдалося виконати перевірку: {error}',
  'verify.script.verified': 'Підрахунок перевірено',
  'verify.script.notVerified': 'Не вдалося перевірити підрахунок',
  'verify.script.proven': '{additions} пораховано − {revocations} відкликано = {total}',
  'verify.script.checkpoint': {
    one: 'номер {sequence}, {count} запис, підписано {time}',
    few: 'номер {sequence}, {count} записи, підписано {time}',
    many: 'номер {sequence}, {count} записів, підписано {time}',
    other: 'номер {sequence}, {count} запису, підписано {time}',
  },
  'verify.script.promiseAt': ' (запис {index}, до {time})',
  'verify.script.memoryOff':
    'Цей браузер не дає сторінці сховища, тож вона нічого не запам’ятовує: кожна перевірка тут перша й довіряє лише ключам, закріпленим у сторінці.',
  'verify.script.offsets.all': 'Записи початкового числа в журналі (перший і кожна його зміна):',
  'verify.script.offsets.changed':
    'Початкове число змінилося відтоді, як цей браузер перевіряв востаннє (контрольна точка {sequence}):',
  'verify.script.offsets.unchanged':
    'Початкове число не змінилося відтоді, як цей браузер перевіряв востаннє (контрольна точка {sequence}).',
  'verify.script.offsets.entry': '{amount} (причина: «{reason}») {time}, працівник {staff}, запис {index}',
  'verify.script.offsets.unknownDate': 'невідомої дати',
  'verify.script.receipt.verified': 'Вашу квитанцію перевірено: ваше членство пораховано в цьому журналі.',
  'verify.script.receipt.revoked':
    'Ваша квитанція є в журналі, але згодом її відкликано (повернення коштів).',
  'verify.script.receipt.pending':
    'Вашу квитанцію записано; наступна підписана контрольна точка (протягом години) її охопить.',
  'verify.script.receipt.not_found': 'Вашої квитанції немає в журналі цієї кампанії.',
  'verify.script.receipt.invalid':
    'Це не схоже на квитанцію: вона складається з ідентифікатора запису, знака ~ і 64 шістнадцяткових символів.',
  'verify.script.receipt.unchecked':
    'Сам журнал не пройшов перевірки, тож квитанцію не вдалося звірити з ним.',
  'verify.script.promise.kept':
    'Редакція дотримала обіцянки: ваш запис є в підписаній контрольній точці там, де було обіцяно, і вчасно.',
  'verify.script.promise.pending':
    'Термін обіцянки ще не настав: підписана контрольна точка має містити ваш запис до зазначеного часу.',
  'verify.script.promise.broken':
    'Відхилено: редакція порушила свою підписану обіцянку: вашого запису немає там, де було обіцяно, до обіцяного часу. Збережіть обіцянку: це доказ.',
  'verify.script.promise.invalid': 'Ця обіцянка не належить цьому журналу або не відповідає вашій квитанції.',
  'verify.script.promise.unchecked':
    'Сам журнал не пройшов перевірки, тож обіцянку не вдалося звірити з ним.',
  'verify.script.refusal.rollback':
    'Відхилено: журнал повернувся назад відтоді, як цей браузер перевіряв його востаннє',
  'verify.script.refusal.fork':
    'Відхилено: це не той журнал, який цей браузер перевіряв раніше (він розгалузився)',
  'verify.script.refusal.key_change':
    'Відхилено: найновіша контрольна точка не підписана ключем, який закріпив цей браузер',
  'verify.script.refusal.broken_promise': 'Відхилено: журнал порушив підписану обіцянку щодо вашого запису',
};
