"""The clerk screen: thin views over the apps' services and selectors.

Every view needs a logged-in user with `members.use_clerk_screen` (superusers pass). Reads go
through loyalty.clerk.selectors; writes call the owning app's service and turn its errors into
words (loyalty.clerk.errors). A successful action is stored as a short confirmation in the
session and the browser is redirected (post/redirect/get), so reloading never sends it again;
each form also carries a one-off token that the services use as their idempotency key, so a
double click records the action once.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views import View

from campaigns.events.models import Event
from campaigns.events.selectors import events_open_for_check_in
from campaigns.events.services import event_check_in
from campaigns.service.selectors import member_suggestions
from loyalty.clerk import forms
from loyalty.clerk.errors import add_validation_errors, clerk_message
from loyalty.clerk.formatting import format_money, format_points
from loyalty.clerk.selectors import (
    SearchResult,
    clerk_member_card,
    clerk_member_get,
    clerk_member_search,
    clerk_members,
    clerk_purchase_get,
    clerk_store,
)
from loyalty.core.exceptions import ApplicationError
from loyalty.core.middleware import STAFF_LANGUAGE, supported_language
from loyalty.ledger.policy import programme_settings_get
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import purchase_record, return_record
from members.exceptions import MemberNotFound
from members.models import Member
from members.selectors import member_get_by_number
from members.services import consent_set, member_enroll, staff_language_set
from rewards.selectors import (
    format_day,
    redemption_batch,
    reward_get,
    voucher_check,
    voucher_last_day,
)
from rewards.services import points_payment_create, redemption_create, voucher_consume

PERMISSION = "members.use_clerk_screen"
FLASH = "clerk_flash"
ENROLLED = "clerk_enrolled"
CHANNEL = "store"


class ClerkLoginView(auth_views.LoginView):
    template_name = "clerk/login.html"
    next_page = "clerk:home"
    redirect_authenticated_user = True


class ClerkLogoutView(auth_views.LogoutView):
    next_page = "clerk:login"


class LanguageView(View):
    """The language switch in the clerk screen's header (and on its login page).

    A POST (CSRF-checked) with `language` and `next`: the choice is saved in the staff
    profile of a logged-in user (so it follows them to any till and to the admin), in their
    session, and in Django's language cookie (so the till's login page stays in it after they
    log out). An unknown language changes nothing; `next` must be a page of this site.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        next_url = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = reverse("clerk:home")
        response = _see_other(next_url)
        language = supported_language(request.POST.get("language"))
        if language is None:
            return response
        if request.user.is_authenticated:
            staff_language_set(user=request.user, language=language)
            request.session[STAFF_LANGUAGE] = language
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE or request.is_secure(),
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
        return response


class ClerkView(LoginRequiredMixin, PermissionRequiredMixin, View):
    login_url = reverse_lazy("clerk:login")
    permission_required = PERMISSION

    def handle_no_permission(self) -> HttpResponse:  # type: ignore[override]
        if self.request.user.is_authenticated:
            return render(self.request, "clerk/forbidden.html", status=403)
        if self.request.headers.get("HX-Request"):
            # an as-you-type search after the session expired: reload the whole page on the
            # login form instead of drawing it inside the results list
            response = HttpResponse(status=401)
            response["HX-Redirect"] = f"{reverse('clerk:login')}?{urlencode({'next': '/clerk/'})}"
            return response
        return super().handle_no_permission()

    def page(self, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
        context.setdefault("store", clerk_store(user=self.request.user))
        return render(self.request, template, context, status=status)

    def flash(self, where: str, *, title: str, lines: Sequence[str] = (), **extra: Any) -> None:
        self.request.session[FLASH] = {"where": where, "title": title, "lines": list(lines)} | extra

    def take_flash(self, where: str) -> dict[str, Any] | None:
        flash = self.request.session.get(FLASH)
        if flash and flash.get("where") == where:
            del self.request.session[FLASH]
            return flash
        return None

    def member_or_none(self, member_id: int) -> Member | None:
        try:
            return clerk_member_get(user=self.request.user, member_id=member_id)
        except MemberNotFound:
            return None

    def not_found(self) -> HttpResponse:
        return self.page("clerk/not_found.html", {}, status=404)


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


# --- finding a member -----------------------------------------------------------------------


class HomeView(ClerkView):
    """The search page. Enter on an exact card number (a scanner) opens the member at once."""

    def get(self, request: HttpRequest) -> HttpResponse:
        result = _search(request)
        if result.open_member is not None:
            return HttpResponseRedirect(member_url(result.open_member.pk))
        return self.page("clerk/home.html", {"result": result, "flash": self.take_flash("home")})


class SearchView(ClerkView):
    """The results list only, for the search box's as-you-type requests (htmx)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "clerk/_results.html", {"result": _search(request)})


def _search(request: HttpRequest) -> SearchResult:
    """The search box's result; text the box cannot take (too long, a NUL) is said in words,
    not silently searched as nothing."""
    form = forms.SearchForm(request.GET)
    if not form.is_valid():
        problem = " ".join(str(message) for message in form.errors.get("q", [])) or _(
            "This search cannot be run."
        )
        return SearchResult(
            query="", message=_("Search not run: %(problem)s") % {"problem": problem}
        )
    return clerk_member_search(user=request.user, query=form.cleaned_data["q"])


def _autofocus(form: forms.forms.Form) -> None:
    """Put the cursor in the form's first field with an error, or its first visible field."""
    names = [name for name, f in form.fields.items() if not f.widget.is_hidden]
    wrong = [name for name in names if name in form.errors]
    if wrong or names:
        form.fields[(wrong or names)[0]].widget.attrs["autofocus"] = True


def member_url(member_id: int) -> str:
    return reverse("clerk:member", args=[member_id])


# --- the member card and its actions --------------------------------------------------------


class MemberView(ClerkView):
    def get(self, request: HttpRequest, member_id: int) -> HttpResponse:
        member = self.member_or_none(member_id)
        if member is None:
            return self.not_found()
        return self.render_member(member, flash=self.take_flash(f"member:{member.pk}"))

    def render_member(
        self,
        member: Member,
        *,
        status: int = 200,
        flash: dict | None = None,
        bound: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The member page; `bound` holds the form just sent (with its errors) by name."""
        bound = bound or {}
        card = clerk_member_card(member=member)
        purchase_form = bound.get("purchase_form") or forms.PurchaseForm()
        _autofocus(next(iter(bound.values()), purchase_form))
        context: dict[str, Any] = {
            "card": card,
            "member": member,
            "flash": flash,
            "purchase_form": purchase_form,
            "return_form": bound.get("return_form") or forms.ReturnForm(),
            "redeem_form": bound.get("redeem_form") or forms.RedeemForm(),
            "pay_form": bound.get("pay_form") or forms.PointsPaymentForm(),
            "consent_form": bound.get("consent_form") or forms.ConsentForm(initial=card.consents),
            "point_value": programme_settings_get().point_value,
            "suggestions": member_suggestions(member=member, catalogue=card.catalogue),
        }
        return self.page("clerk/member.html", context, status=status)


class MemberActionView(MemberView):
    """POST one action for a member: validate, call the service, confirm or explain."""

    form_class: type[forms.forms.Form]
    form_name: str
    field_map: dict[str, str] = {}

    def post(self, request: HttpRequest, member_id: int) -> HttpResponse:
        member = self.member_or_none(member_id)
        if member is None:
            return self.not_found()
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                self.perform(member, form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, clerk_message(exc))
            except ValidationError as exc:
                add_validation_errors(form, exc, field_map=self.field_map)
            else:
                return _see_other(member_url(member.pk) + "#result")
        return self.render_member(member, status=400, bound={self.form_name: form})

    def perform(self, member: Member, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def balance_line(self, member: Member) -> str:
        balance = account_balance(member=member)
        if balance.pending:
            return _("New balance: %(available)s available, %(pending)s pending.") % {
                "available": format_points(balance.available),
                "pending": format_points(balance.pending),
            }
        return _("New balance: %(available)s available.") % {
            "available": format_points(balance.available)
        }


class PurchaseView(MemberActionView):
    form_class = forms.PurchaseForm
    form_name = "purchase_form"
    field_map = {"occurred_at": "amount"}

    def perform(self, member: Member, data: dict[str, Any]) -> None:
        receipt = data["receipt"].strip()
        currency = programme_settings_get().currency
        result = purchase_record(
            member=member,
            channel=CHANNEL,
            external_id=receipt or f"clerk-{data['token']}",
            occurred_at=timezone.now(),
            amount=data["amount"],
            store=clerk_store(user=self.request.user),
            actor=self.request.user,
        )
        amount = format_money(data["amount"], currency)
        if not result.created:
            title = _("Already recorded: this purchase of %(amount)s was recorded before.") % {
                "amount": amount
            }
            lines = [_("No points were added again.")]
        else:
            title = (
                _("Purchase of %(amount)s recorded (receipt %(receipt)s).")
                % {"amount": amount, "receipt": receipt}
                if receipt
                else _("Purchase of %(amount)s recorded.") % {"amount": amount}
            )
            earned = format_points(result.points_earned)
            lines = [
                _("Points earned: %(points)s (pending until the return period ends).")
                % {"points": earned}
                if result.points_pending
                else _("Points earned: %(points)s.") % {"points": earned}
            ]
        lines.append(self.balance_line(member))
        self.flash(f"member:{member.pk}", title=title, lines=lines, tone="good")


class ReturnView(MemberActionView):
    form_class = forms.ReturnForm
    form_name = "return_form"

    def perform(self, member: Member, data: dict[str, Any]) -> None:
        row = clerk_purchase_get(member=member, purchase_id=data["purchase"])
        purchase = row.transaction
        currency = programme_settings_get().currency
        amount = data["amount"] or row.returnable
        if amount <= 0:
            raise ValidationError({"purchase": [_("This purchase was already fully returned.")]})
        result = return_record(
            channel=CHANNEL,
            external_id=f"clerk-return-{data['token']}",
            occurred_at=timezone.now(),
            amount=amount,
            original=purchase,
            member=member,
            store=clerk_store(user=self.request.user),
            actor=self.request.user,
        )
        what = purchase.external_id if not purchase.external_id.startswith("clerk-") else None
        money = format_money(amount, currency)
        title = (
            _("Return of %(amount)s recorded against receipt %(receipt)s.")
            % {"amount": money, "receipt": what}
            if what
            else _("Return of %(amount)s recorded against the purchase of %(day)s.")
            % {"amount": money, "day": format_day(timezone.localtime(purchase.occurred_at).date())}
        )
        lines = [
            _("Points taken back: %(points)s.") % {"points": format_points(result.points_reversed)}
        ]
        if result.points_refunded:
            lines.append(
                _("Points given back (they paid for the returned goods): %(points)s.")
                % {"points": format_points(result.points_refunded)}
            )
        if not result.created:
            title = _("Already recorded: this return was recorded before.")
        lines.append(self.balance_line(member))
        self.flash(f"member:{member.pk}", title=title, lines=lines, tone="good")


class RedeemView(MemberActionView):
    form_class = forms.RedeemForm
    form_name = "redeem_form"

    def perform(self, member: Member, data: dict[str, Any]) -> None:
        reward = reward_get(reference=data["reward"])
        quantity = data.get("quantity") or 1
        redemption = redemption_create(
            member=member,
            reward=reward,
            actor=self.request.user,
            channel=CHANNEL,
            store=clerk_store(user=self.request.user),
            idempotency_key=f"clerk-redeem-{data['token']}",
            quantity=quantity,
        )
        batch = redemption_batch(redemption=redemption)
        donation = getattr(redemption, "donation", None)
        if donation is not None:  # a donation to a cause: no voucher to hand over
            self.flash(
                f"member:{member.pk}",
                title=_(
                    "Donated %(points)s to “%(cause)s”. No voucher: the points go to the cause."
                )
                % {"points": format_points(sum(r.points for r in batch)), "cause": donation.cause},
                lines=[self.balance_line(member)],
                tone="good",
            )
            return
        voucher = redemption.voucher
        lines = [
            _("%(points)s spent.") % {"points": format_points(sum(r.points for r in batch))},
            _("Valid until the end of %(day)s.")
            % {"day": format_day(voucher_last_day(voucher.expires_at))},
        ]
        partner_codes = [r.voucher.partner_code for r in batch if r.voucher.partner_code]
        if partner_codes:
            lines.insert(0, _("Partner code: %(codes)s") % {"codes": ", ".join(partner_codes)})
        if len(batch) > 1:
            lines.insert(
                0,
                _("Voucher codes: %(codes)s.")
                % {"codes": ", ".join(r.voucher.display_code for r in batch)},
            )
        lines.append(self.balance_line(member))
        self.flash(
            f"member:{member.pk}",
            title=_("Redeemed “%(name)s”. Give the member this voucher code:")
            % {"name": reward.name}
            if len(batch) == 1
            else _("Redeemed %(n)s of “%(name)s”. Give the member these %(n)s voucher codes:")
            % {"n": len(batch), "name": reward.name},
            lines=lines,
            code=voucher.display_code,
            tone="good",
        )


class PointsPaymentView(MemberActionView):
    form_class = forms.PointsPaymentForm
    form_name = "pay_form"

    def perform(self, member: Member, data: dict[str, Any]) -> None:
        redemption = points_payment_create(
            member=member,
            order_ref=data["order_ref"],
            points=data["points"],
            amount=data["amount"],
            actor=self.request.user,
            channel=CHANNEL,
            store=clerk_store(user=self.request.user),
            idempotency_key=f"clerk-pay-{data['token']}",
        )
        currency = programme_settings_get().currency
        value = format_money(redemption.value or Decimal("0"), currency)
        self.flash(
            f"member:{member.pk}",
            title=_("Paid %(value)s of order %(order_ref)s with %(format_points)s.")
            % {
                "value": value,
                "order_ref": data["order_ref"],
                "format_points": format_points(redemption.points),
            },
            lines=[
                _("Take %(value)s off the bill; the member pays the rest.") % {"value": value},
                self.balance_line(member),
            ],
            tone="good",
        )


class ConsentView(MemberActionView):
    form_class = forms.ConsentForm
    form_name = "consent_form"

    def perform(self, member: Member, data: dict[str, Any]) -> None:
        with transaction.atomic():
            for channel in ("email", "sms", "push"):
                consent_set(
                    member=member,
                    channel=channel,
                    granted=data[channel],
                    source=CHANNEL,
                    actor=self.request.user,
                )
        labels = {"email": _("e-mail"), "sms": _("SMS"), "push": _("app notifications")}
        said = _(", ").join(
            (_("%(channel)s yes") if data[c] else _("%(channel)s no")) % {"channel": labels[c]}
            for c in labels
        )
        self.flash(
            f"member:{member.pk}",
            title=_("Marketing consent saved: %(said)s.") % {"said": said},
            tone="good",
        )


# --- enrolment ------------------------------------------------------------------------------


class EnrolView(ClerkView):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = forms.EnrolForm()
        _autofocus(form)
        return self.page("clerk/enrol.html", {"form": form})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = forms.EnrolForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            done = request.session.get(ENROLLED, {})
            if data["token"] in done:  # the same form sent twice: show the member once
                return _see_other(member_url(done[data["token"]]))
            try:
                member = member_enroll(
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    email=data["email"] or None,
                    phone=data["phone"] or None,
                    home_store=clerk_store(user=request.user),
                    channel=Member.Channel.STORE,
                    consents={
                        "email": data["consent_email"],
                        "sms": data["consent_sms"],
                        "push": data["consent_push"],
                    },
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_error(None, clerk_message(exc))
            except ValidationError as exc:
                add_validation_errors(form, exc)
            else:
                request.session[ENROLLED] = {data["token"]: member.pk}
                self.flash(
                    f"member:{member.pk}",
                    title=_("Welcome, %(full_name)s! Enrolled with card number %(member_number)s.")
                    % {"full_name": member.display_name, "member_number": member.member_number},
                    lines=[_("Hand over a card, or read the number to the member.")],
                    tone="good",
                )
                return _see_other(member_url(member.pk) + "#result")
        _autofocus(form)
        return self.page("clerk/enrol.html", {"form": form}, status=400)


# --- vouchers -------------------------------------------------------------------------------


class VoucherView(ClerkView):
    """Check a voucher code, then use it against an order."""

    def get(self, request: HttpRequest) -> HttpResponse:
        flash = self.take_flash("voucher")
        if "code" not in request.GET:
            context = {"form": forms.VoucherCheckForm(), "flash": flash}
            return self.page("clerk/voucher.html", context)
        form = forms.VoucherCheckForm(request.GET)
        return self.show_check(form, flash=flash)

    def show_check(
        self,
        form: forms.VoucherCheckForm,
        *,
        flash: dict | None = None,
        consume_form: forms.VoucherConsumeForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        check = None
        member_visible = False
        if form.is_valid():
            try:
                check = voucher_check(code=form.cleaned_data["code"])
            except ApplicationError as exc:
                form.add_error("code", clerk_message(exc))
                status = 404 if status == 200 else status
            else:
                # a code of no member (a partner batch) shows no member
                member_visible = (
                    check.member_id is not None
                    and clerk_members(user=self.request.user).filter(pk=check.member_id).exists()
                )
        elif status == 200:
            status = 400
        if check is not None and consume_form is None:
            consume_form = forms.VoucherConsumeForm(initial={"code": check.code})
        if check is not None and check.valid and consume_form is not None:
            _autofocus(consume_form)
        context = {
            "form": form,
            "check": check,
            "consume_form": consume_form,
            "member_visible": member_visible,
            "flash": flash,
        }
        return self.page("clerk/voucher.html", context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        consume_form = forms.VoucherConsumeForm(request.POST)
        code = request.POST.get("code", "")
        if consume_form.is_valid():
            data = consume_form.cleaned_data
            try:
                number = (data.get("member_number") or "").strip()
                voucher = voucher_consume(
                    code=data["code"],
                    order_ref=data["order_ref"],
                    actor=request.user,
                    channel=CHANNEL,
                    store=clerk_store(user=request.user),
                    member=member_get_by_number(member_number=number, user=request.user)
                    if number
                    else None,
                )
            except ApplicationError as exc:
                consume_form.add_error(None, clerk_message(exc))
            except ValidationError as exc:
                add_validation_errors(consume_form, exc)
            else:
                self.flash(
                    "voucher",
                    title=_("Voucher %(display_code)s used for order %(order_ref)s.")
                    % {"display_code": voucher.display_code, "order_ref": voucher.order_ref},
                    lines=[_("Give the member what the voucher offers (see below).")],
                    tone="good",
                )
                return _see_other(
                    reverse("clerk:voucher") + "?" + urlencode({"code": voucher.display_code})
                )
        check_form = forms.VoucherCheckForm({"code": code})
        return self.show_check(check_form, consume_form=consume_form, status=400)


# --- member events --------------------------------------------------------------------------


class EventsView(ClerkView):
    """Events today: the events open for check-in now, and the check-in form (scan the card).
    The points are credited once and the attendance badge given by the service; a second scan
    says the member is already checked in and changes nothing."""

    permission_required = PERMISSION

    def has_permission(self) -> bool:
        return super().has_permission() and self.request.user.has_perm("events.check_in_event")

    def get(self, request: HttpRequest) -> HttpResponse:
        events = list(events_open_for_check_in())
        form = forms.EventCheckInForm(events=events)
        return self.show(form, events, flash=self.take_flash("events"))

    def show(
        self,
        form: forms.EventCheckInForm,
        events: list[Event],
        *,
        flash: dict | None = None,
        status: int = 200,
    ) -> HttpResponse:
        if events:
            _autofocus(form)
            if not form.is_bound and len(events) == 1:
                form.initial["event"] = events[0].pk
            # the card field is what a clerk fills each time: the cursor waits there
            form.fields["member_number"].widget.attrs["autofocus"] = True
            form.fields["event"].widget.attrs.pop("autofocus", None)
        zone = programme_settings_get().time_zone
        context = {"form": form, "events": events, "flash": flash, "zone": zone}
        return self.page("clerk/events.html", context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        events = list(events_open_for_check_in())
        form = forms.EventCheckInForm(request.POST, events=events)
        if form.is_valid():
            data = form.cleaned_data
            event = next(e for e in events if e.pk == data["event"])
            try:
                member = member_get_by_number(
                    member_number=data["member_number"], user=request.user
                )
                check_in = event_check_in(event=event, member=member, actor=request.user)
            except ApplicationError as exc:
                field = "member_number" if exc.code in _CARD_CODES else None
                form.add_error(field, clerk_message(exc))
            except ValidationError as exc:
                add_validation_errors(form, exc)
            else:
                lines = []
                if check_in.points:
                    lines.append(
                        _("%(points)s credited.") % {"points": format_points(check_in.points)}
                    )
                if check_in.walk_in:
                    lines.append(_("No RSVP: given one of the places left."))
                self.flash(
                    "events",
                    title=_("%(name)s is checked in at %(event)s.")
                    % {"name": member.display_name, "event": event.name},
                    lines=lines,
                    tone="good",
                )
                return _see_other(reverse("clerk:events") + "#result")
        return self.show(form, events, status=400)


# errors about the card itself go under the card field; the rest above the form
_CARD_CODES = {"member_not_found", "invalid_card_number", "member_not_active", "member_erased"}
