# نصوص إشعارات بلاغ باللغة العربية (العربية الفصحى المعاصرة).
#
# كل رسالة هنا يجب أن توجد أيضًا في ../en/notifications.ftl (يقارن اختبارٌ المعرّفات بين الملفين).
# تُملأ المتغيرات في crates/i18n/src/render.rs، وتُنسَّق النصوص دون علامات العزل الاتجاهي
# حتى تصل إلى بوابات الرسائل القصيرة والنطق الآلي كما هي.

-brand = بلاغ

## التواريخ. تصل أرقام $day و$year مكتوبة بالأرقام العربية المشرقية.

month-gregorian-1 = يناير
month-gregorian-2 = فبراير
month-gregorian-3 = مارس
month-gregorian-4 = أبريل
month-gregorian-5 = مايو
month-gregorian-6 = يونيو
month-gregorian-7 = يوليو
month-gregorian-8 = أغسطس
month-gregorian-9 = سبتمبر
month-gregorian-10 = أكتوبر
month-gregorian-11 = نوفمبر
month-gregorian-12 = ديسمبر

month-hijri-1 = محرم
month-hijri-2 = صفر
month-hijri-3 = ربيع الأول
month-hijri-4 = ربيع الآخر
month-hijri-5 = جمادى الأولى
month-hijri-6 = جمادى الآخرة
month-hijri-7 = رجب
month-hijri-8 = شعبان
month-hijri-9 = رمضان
month-hijri-10 = شوال
month-hijri-11 = ذو القعدة
month-hijri-12 = ذو الحجة

date-gregorian = { $day } { $month } { $year }
date-hijri = { $day } { $month } { $year }هـ
# التاريخ الميلادي وما يوافقه في تقويم أم القرى.
date-line = { $gregorian }م الموافق { $hijri }

## رقم البلاغ يُقرأ رقمًا رقمًا في المكالمات الآلية.

digit-0 = صفر
digit-1 = واحد
digit-2 = اثنان
digit-3 = ثلاثة
digit-4 = أربعة
digit-5 = خمسة
digit-6 = ستة
digit-7 = سبعة
digit-8 = ثمانية
digit-9 = تسعة
digit-separator = {"، "}

## حالات البلاغ كما يقرؤها المستفيد.

status-new = جديد
status-acknowledged = تم الاستلام
status-assigned = أُحيل إلى الجهة المختصة
status-in_progress = قيد المعالجة
status-on_hold = متوقف مؤقتًا
status-awaiting_citizen = بانتظار معلومات منكم
status-resolved = تمت المعالجة
status-closed = مغلق
status-reopened = أُعيد فتحه
status-rejected = لم يُقبل
status-duplicate = دُمج مع بلاغ سابق
status-unknown = محدَّث

status-hint-awaiting_citizen = نأمل تزويدنا بالمعلومات المطلوبة لنتمكن من استكمال المعالجة.
status-hint-resolved = إذا لم تُحل المشكلة، فنأمل التواصل معنا لإعادة فتح بلاغكم.
status-hint-rejected = لمزيد من التفاصيل، نأمل التواصل معنا.
status-hint-duplicate = سنوافيكم بالمستجدات من خلال البلاغ السابق.

## الأولويات وكلمات أخرى في إشعارات الموظفين.

priority-low = منخفضة
priority-normal = عادية
priority-high = مرتفعة
priority-urgent = عاجلة
priority-emergency = طارئة

## أجزاء مشتركة بين نصوص الإشعارات.

report-ref-service = { $ticket } ({ $service })
greeting-beneficiary = المستفيد الكريم،
greeting-staff = الزميل الكريم،
signoff-beneficiary = شاكرين لكم تعاونكم، منصة { -brand }
signoff-staff = منصة { -brand } للبلاغات البلدية
note-line = ملاحظة الجهة المختصة: { $note }
note-line-short = ملاحظة: { $note }
comment-line = «{ $note }»
expected-line = الموعد المتوقع للإنجاز: { $date }.
portal-track = لمتابعة بلاغكم: { $url }
portal-rate = لتقييم الخدمة: { $url }

## status_changed: تغيّرت حالة بلاغ المستفيد.

status-changed-subject = تحديث على بلاغكم رقم { $ticket }
status-changed-line = نفيدكم بأن حالة بلاغكم رقم { $ref } أصبحت: { $status }.

## public_comment: ردّ الموظفون على البلاغ.

public-comment-subject = رد جديد على بلاغكم رقم { $ticket }
public-comment-line = ورد رد جديد على بلاغكم رقم { $ref }:

## closure_survey: أُغلق البلاغ، ونسأل المستفيد عن رأيه في معالجته.

closure-survey-subject = شاركونا رأيكم في معالجة بلاغكم رقم { $ticket }
closure-survey-line = تم إغلاق بلاغكم رقم { $ref }، ويسعدنا معرفة رأيكم في مستوى معالجته.
closure-survey-no-link = شكرًا لإسهامكم في تحسين مدينتنا.

## call_fallback: لم يُرَد على مكالمة التحديث، فيُرسل التحديث برسالة قصيرة.

call-fallback-subject = حاولنا الاتصال بكم بشأن بلاغكم رقم { $ticket }
call-fallback-line = حاولنا الاتصال بكم لإبلاغكم بتحديث على بلاغكم رقم { $ref }، وحالته الآن: { $status }.

## أي موضوع آخر: تحديث عام.

generic-subject = تحديث على بلاغكم رقم { $ticket }
generic-line = يوجد تحديث على بلاغكم رقم { $ref }.
generic-line-status = يوجد تحديث على بلاغكم رقم { $ref }، وحالته الآن: { $status }.

## escalation (للموظفين): تجاوز البلاغ مهلته فصُعِّد في سلسلة التصعيد.

escalation-subject = تصعيد المستوى { $level }: البلاغ رقم { $ticket }
escalation-subject-no-level = تصعيد: البلاغ رقم { $ticket }
escalation-line = صُعِّد البلاغ رقم { $ref } إلى المستوى { $level } من سلسلة التصعيد.
escalation-line-no-level = صُعِّد البلاغ رقم { $ref }.
escalation-details = الخطوة { $step }، الجولة { $round }.
escalation-reason = السبب: { $reason }
escalation-action = نأمل اتخاذ الإجراء اللازم في أقرب وقت ممكن.

## follow_up (للموظفين): تابع المستفيد بلاغه.

follow-up-subject = متابعة من المستفيد على البلاغ رقم { $ticket }
follow-up-line = { $count ->
    [one] تابع المستفيد البلاغ رقم { $ref } للمرة الأولى.
    [two] تابع المستفيد البلاغ رقم { $ref } مجددًا، وهذه متابعته الثانية.
    [few] تابع المستفيد البلاغ رقم { $ref } مجددًا: { $count } متابعات حتى الآن.
   *[other] تابع المستفيد البلاغ رقم { $ref } مجددًا: { $count } متابعة حتى الآن.
}
follow-up-line-no-count = تابع المستفيد البلاغ رقم { $ref }.
follow-up-action = نأمل سرعة التجاوب مع المستفيد.

## أسطر إشعارات الموظفين.

staff-department = الإدارة: { $department }
staff-priority = الأولوية: { $priority }
staff-status = الحالة الحالية: { $status }
staff-deadline = موعد الإنجاز المحدد: { $date } الساعة { $time } بتوقيت الرياض

## مكالمات التحديث (النطق الآلي). يضيف نظام الرد الآلي قائمة الخيارات من رسائل call-menu.

call-intro = السلام عليكم، معكم منصة { -brand } بتحديث على بلاغكم رقم { $digits }. حالة البلاغ الآن: { $status }.
call-note = وأضافت الجهة المختصة الملاحظة التالية: { $note }
call-expected = والموعد المتوقع للإنجاز هو { $date }.
call-menu = لإعادة سماع الرسالة اضغط ١، وإذا لم تُحل المشكلة اضغط ٣، وللتحدث مع أحد موظفي خدمة المستفيدين اضغط ٠.
call-menu-resolved = لإعادة سماع الرسالة اضغط ١، ولتأكيد حل المشكلة اضغط ٢، وإذا لم تُحل المشكلة اضغط ٣، ولتقييم معالجة بلاغكم اضغط ٤، وللتحدث مع أحد موظفي خدمة المستفيدين اضغط ٠.
call-rate-quality = نأمل تقييم جودة العمل من ١ إلى ٥، حيث ١ ضعيف جدًا و٥ ممتاز.
call-rate-speed = نأمل تقييم سرعة معالجة بلاغكم من ١ إلى ٥، حيث ١ بطيء جدًا و٥ سريع جدًا.
call-thanks-confirmed = شكرًا لتأكيدكم حل المشكلة.
call-thanks-not-fixed = نعتذر لعدم حل المشكلة. تمت إعادة فتح بلاغكم وتصعيده إلى الجهة المختصة.
call-thanks-rated = شكرًا لتقييمكم، فهو يساعدنا على تحسين خدماتنا.
call-agent = يرجى الانتظار، جارٍ تحويلكم إلى أحد موظفي خدمة المستفيدين.
call-invalid = عذرًا، هذا الاختيار غير صحيح.
call-already = سبق تسجيل إجابتكم، شكرًا لكم.
call-goodbye = شكرًا لتواصلكم مع منصة { -brand }، في أمان الله.
call-comment = السلام عليكم، معكم منصة { -brand }. ورد رد جديد على بلاغكم رقم { $digits }.
call-comment-text = ونص الرد: { $note }
call-closure = السلام عليكم، معكم منصة { -brand }. تم إغلاق بلاغكم رقم { $digits }، ويسعدنا معرفة رأيكم في مستوى معالجته.
call-generic = السلام عليكم، معكم منصة { -brand } بتحديث على بلاغكم رقم { $digits }.
call-escalation = معكم منصة { -brand }. صُعِّد البلاغ رقم { $digits } ويحتاج إلى إجرائكم.
call-escalation-level = وقد بلغ المستوى { $level } من سلسلة التصعيد.
call-follow-up = معكم منصة { -brand }. تابع المستفيد البلاغ رقم { $digits }، نأمل سرعة التجاوب.

## استلام بلاغ (تُرسل عند تقديم البلاغ بالهاتف، مع رقمه).

received-subject = استلمنا بلاغكم { $ticket }
received-line = استلمنا بلاغكم { $ref }. احتفظوا برقمه لمتابعته.
call-received = السلام عليكم، معكم منصة { -brand }. استلمنا بلاغكم رقم { $digits }.

## بلاغ فُتح بالهاتف دون موقعه: رابط تحديد الموقع على الخريطة، وما يحدث إن لم يصل الموقع.

place-requested-subject = حددوا موقع بلاغكم { $ticket }
place-requested-line = سجلنا بلاغكم { $ref }. نرجو تحديد موقع المشكلة على الخريطة ليصل إليه الفريق.
place-link = لتحديد الموقع: { $url }
place-until = يعمل الرابط حتى الساعة { $time } يوم { $date }.
place-no-link = نرجو الاتصال على 940 لإبلاغنا بالموقع.
call-place-requested = السلام عليكم، معكم منصة { -brand }. بلاغكم رقم { $digits } بانتظار تحديد موقعه. نرجو فتح الرابط في رسالتنا النصية وتحديد الموقع على الخريطة.
place-expired-subject = البلاغ { $ticket } يمضي دون تحديد الموقع على الخريطة
place-expired-line = لم يصلنا موقع بلاغكم { $ref } على الخريطة. سيعمل الفريق وفق وصفكم وقد يتصل بكم.
call-place-expired = السلام عليكم، معكم منصة { -brand }. لم يصلنا موقع بلاغكم رقم { $digits } على الخريطة. سيعمل الفريق وفق وصفكم وقد يتصل بكم.
