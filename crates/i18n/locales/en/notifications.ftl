# Balagh notification texts, English.
#
# Every message here must also exist in ../ar/notifications.ftl (a unit test compares the ids).
# Variables are filled by crates/i18n/src/render.rs; texts are formatted without Unicode isolation
# marks, so they go to SMS gateways and text-to-speech unchanged.

-brand = Balagh

## Dates. The digits of $day and $year arrive already written in the language's digits.

month-gregorian-1 = January
month-gregorian-2 = February
month-gregorian-3 = March
month-gregorian-4 = April
month-gregorian-5 = May
month-gregorian-6 = June
month-gregorian-7 = July
month-gregorian-8 = August
month-gregorian-9 = September
month-gregorian-10 = October
month-gregorian-11 = November
month-gregorian-12 = December

month-hijri-1 = Muharram
month-hijri-2 = Safar
month-hijri-3 = Rabi al-Awwal
month-hijri-4 = Rabi al-Thani
month-hijri-5 = Jumada al-Ula
month-hijri-6 = Jumada al-Akhirah
month-hijri-7 = Rajab
month-hijri-8 = Shaban
month-hijri-9 = Ramadan
month-hijri-10 = Shawwal
month-hijri-11 = Dhu al-Qadah
month-hijri-12 = Dhu al-Hijjah

date-gregorian = { $day } { $month } { $year }
date-hijri = { $day } { $month } { $year } AH
# The Gregorian date with the same day in the Hijri (Umm al-Qura) calendar.
date-line = { $gregorian } ({ $hijri })

## A ticket number read digit by digit by text-to-speech.

digit-0 = 0
digit-1 = 1
digit-2 = 2
digit-3 = 3
digit-4 = 4
digit-5 = 5
digit-6 = 6
digit-7 = 7
digit-8 = 8
digit-9 = 9
digit-separator = {", "}

## Report statuses as the beneficiary reads them.

status-new = New
status-acknowledged = Received
status-assigned = Assigned to the responsible department
status-in_progress = In progress
status-on_hold = On hold
status-awaiting_citizen = Waiting for information from you
status-resolved = Resolved
status-closed = Closed
status-reopened = Reopened
status-rejected = Not accepted
status-duplicate = Merged with an earlier report
status-unknown = Updated

status-hint-awaiting_citizen = Please send us the requested information so that we can continue.
status-hint-resolved = If the problem has not been fixed, please contact us and we will reopen your report.
status-hint-rejected = For more details, please contact us.
status-hint-duplicate = We will keep you informed through the earlier report.

## Priorities and other words in staff notices.

priority-low = Low
priority-normal = Normal
priority-high = High
priority-urgent = Urgent
priority-emergency = Emergency

## Pieces shared by the notification texts.

report-ref-service = { $ticket } ({ $service })
greeting-beneficiary = Dear beneficiary,
greeting-staff = Dear colleague,
signoff-beneficiary = With our thanks, { -brand }
signoff-staff = { -brand }, municipal reports
note-line = Note from the department: { $note }
note-line-short = Note: { $note }
comment-line = "{ $note }"
expected-line = Expected completion: { $date }.
portal-track = Follow your report: { $url }
portal-rate = Rate the service: { $url }

## status_changed: the status of the beneficiary's report changed.

status-changed-subject = Update on your report { $ticket }
status-changed-line = The status of your report { $ref } is now: { $status }.

## public_comment: staff answered on the report.

public-comment-subject = New reply on your report { $ticket }
public-comment-line = There is a new reply on your report { $ref }:

## closure_survey: the report was closed; asking how it was handled.

closure-survey-subject = How did we handle your report { $ticket }?
closure-survey-line = Your report { $ref } has been closed. We would value your opinion of how it was handled.
closure-survey-no-link = Thank you for helping us improve our city.

## call_fallback: the update call was not answered, so the update goes by SMS.

call-fallback-subject = We tried to call you about your report { $ticket }
call-fallback-line = We tried to call you with an update on your report { $ref }. Its status is now: { $status }.

## Any other topic: a generic update.

generic-subject = Update on your report { $ticket }
generic-line = There is an update on your report { $ref }.
generic-line-status = There is an update on your report { $ref }. Its status is now: { $status }.

## escalation (to staff): a report missed its deadline and climbed the escalation chain.

escalation-subject = Escalation level { $level }: report { $ticket }
escalation-subject-no-level = Escalation: report { $ticket }
escalation-line = Report { $ref } has been escalated to level { $level } of its escalation chain.
escalation-line-no-level = Report { $ref } has been escalated.
escalation-details = Step { $step }, round { $round }.
escalation-reason = Reason: { $reason }
escalation-action = Please act on it as soon as possible.

## follow_up (to staff): the beneficiary followed up on a report.

follow-up-subject = The beneficiary followed up on report { $ticket }
follow-up-line = { $count ->
    [one] The beneficiary has followed up on report { $ref } for the first time.
   *[other] The beneficiary has followed up on report { $ref } again: { $count } follow-ups so far.
}
follow-up-line-no-count = The beneficiary has followed up on report { $ref }.
follow-up-action = Please respond to the beneficiary promptly.

## Lines of staff notices.

staff-department = Department: { $department }
staff-priority = Priority: { $priority }
staff-status = Current status: { $status }
staff-deadline = Resolution due: { $date } at { $time } (Riyadh time)

## Update calls (text-to-speech). The call's menu is added by the IVR from the call-menu messages.

call-intro = Hello, this is { -brand } with an update on your report number { $digits }. Its status is now: { $status }.
call-note = The department added this note: { $note }
call-expected = The expected completion date is { $date }.
call-menu = To hear this message again, press 1. If the problem has not been fixed, press 3. To speak to an agent, press 0.
call-menu-resolved = To hear this message again, press 1. To confirm that the problem has been fixed, press 2. If it has not been fixed, press 3. To rate how your report was handled, press 4. To speak to an agent, press 0.
call-rate-quality = Please rate the quality of the work, from 1 for very poor to 5 for excellent.
call-rate-speed = Please rate how quickly your report was handled, from 1 for very slow to 5 for very fast.
call-thanks-confirmed = Thank you for confirming that the problem has been fixed.
call-thanks-not-fixed = We are sorry that the problem has not been fixed. Your report has been reopened and escalated to the responsible department.
call-thanks-rated = Thank you for your rating. It helps us improve our services.
call-agent = Please hold while we connect you to an agent.
call-invalid = Sorry, that is not a valid choice.
call-already = Your answer has already been recorded. Thank you.
call-goodbye = Thank you for contacting { -brand }. Goodbye.
call-comment = Hello, this is { -brand }. There is a new reply on your report number { $digits }.
call-comment-text = The reply says: { $note }
call-closure = Hello, this is { -brand }. Your report number { $digits } has been closed. We would value your opinion of how it was handled.
call-generic = Hello, this is { -brand } with an update on your report number { $digits }.
call-escalation = This is { -brand }. Report number { $digits } has been escalated and needs your action.
call-escalation-level = It has reached level { $level } of its escalation chain.
call-follow-up = This is { -brand }. The beneficiary has followed up on report number { $digits }. Please respond promptly.

## A report received (sent when it is opened by phone, with its ticket number).

received-subject = We received your report { $ticket }
received-line = We received your report { $ref }. Keep its number to follow it up.
call-received = Hello, this is { -brand }. We received your report, number { $digits }.

## A report opened by phone without its place: the link to mark it on a map, and when no place came.

place-requested-subject = Mark the place of your report { $ticket }
place-requested-line = We registered your report { $ref }. Please mark the place of the problem on the map so the team can find it.
place-link = Mark the place: { $url }
place-until = The link works until { $time } on { $date }.
place-no-link = Please call 940 to tell us the place.
call-place-requested = Hello, this is { -brand }. Your report number { $digits } is waiting for its place. Please open the link in our text message to mark it on the map.
place-expired-subject = Report { $ticket } goes on without a map pin
place-expired-line = We did not receive the place of your report { $ref } on the map. The team will work from your description and may call you.
call-place-expired = Hello, this is { -brand }. We did not receive the place of your report number { $digits } on the map. The team will work from your description and may call you.
