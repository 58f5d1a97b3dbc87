"""Before an SMS run: what it will cost and what the account holds, as the gateway says."""

from __future__ import annotations

from avtoprokat_mail.sending.campaign import RunPlan
from avtoprokat_mail.sending.message import build_sms
from avtoprokat_mail.sending.sms.gateway import GatewayFailure, SmsGateway, format_money


def cost_line(gateway: SmsGateway, plan: RunPlan) -> str:
    """One Russian line for the start summary; network calls: run it off the Tk thread.

    The gateway prices one message (the longest text, to the first number); the total is that
    price per part times all the parts of the run.
    """
    if not plan.recipients:
        return ""
    texts = [(build_sms(plan.template, d.client()), d.recipient) for d in plan.recipients]
    text, number = max(texts, key=lambda pair: len(pair[0]))
    try:
        price = gateway.price([number], text)
        balance = gateway.balance()
    except GatewayFailure as failure:
        return f"Стоимость узнать не удалось: {failure.message}"
    line = ""
    if price.segments:
        total = price.amount / price.segments * plan.segments
        line = f"Стоимость ≈ {format_money(total, price.currency)} за {plan.segments} SMS. "
    # The amount ends in "руб.", which ends the sentence too: no second full stop.
    line += f"На счёте {format_money(balance.amount, balance.currency)}"
    if price.segments and balance.amount < total:
        line += " Денег не хватит на всю рассылку: пополните счёт."
    return line
