"""The Olist "classified" public data set mapped to shipments and labelled texts.

Olist data is CC BY-NC-SA 4.0: use it to test and evaluate, never ship it.

Shipments. The set keeps purchase, approval, estimated and delivered times, so:
dispatch = approval time (the hand-over to the carrier is not in this set),
promise = end of the estimated delivery day, delivery = delivered-to-customer
time (None when not delivered); carrier and service level are unknown (one value
each); lane = ``BR -> customer state`` (seller location is not in the set).
Timestamps are local Brazilian times taken as UTC: only differences matter here.

Texts. Three annotators voted a subclass per review; ``most_voted_subclass`` is
empty on a tie and such rows are dropped. Mapping to our topics:

======================  ==========================  =================================
annotator subclass      meaning                     topic
======================  ==========================  =================================
atrasado                late                        late
entrega_parcial         partial delivery            partial_delivery
diferente_do_anunciado  not as advertised           wrong_or_not_as_described
baixa_qualidade         low quality                 quality
devolucao               return / money back         return_or_refund
antes_prazo             arrived early               other
satisfeito              satisfied                   other
outro_entrega           other delivery problem      other
outro_pedido            other order problem         other
======================  ==========================  =================================

No subclass means cancellation or address change, so those topics have no Olist
examples: the classifier learns them only from data that has them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from orderops.detect.models.shipments import UNKNOWN, ShipmentRecord
from orderops.detect.models.topics import TicketTopic

SUBCLASS_TOPICS: dict[str, TicketTopic] = {
    "atrasado": TicketTopic.LATE,
    "entrega_parcial": TicketTopic.PARTIAL_DELIVERY,
    "diferente_do_anunciado": TicketTopic.WRONG_OR_NOT_AS_DESCRIBED,
    "baixa_qualidade": TicketTopic.QUALITY,
    "devolucao": TicketTopic.RETURN_OR_REFUND,
    "antes_prazo": TicketTopic.OTHER,
    "satisfeito": TicketTopic.OTHER,
    "outro_entrega": TicketTopic.OTHER,
    "outro_pedido": TicketTopic.OTHER,
}


@dataclass(frozen=True)
class LabelledText:
    source_id: str
    text: str
    topic: TicketTopic


def _moment(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def olist_record(row: Mapping[str, str]) -> ShipmentRecord | None:
    """One order as a shipment, or None when it lacks a dispatch or a promise."""
    dispatched = _moment(row["order_aproved_at"]) or _moment(row["order_purchase_timestamp"])
    estimated = _moment(row["order_estimated_delivery_date"])
    if dispatched is None or estimated is None:
        return None
    estimated_day = estimated.replace(hour=0, minute=0, second=0, microsecond=0)
    return ShipmentRecord(
        shipment_id=f"olist-{row['id']}",
        carrier=UNKNOWN,
        service_level="standard",
        origin_region="BR",
        destination_region=row["customer_state"].strip(),
        dispatched_at=dispatched,
        promised_at=estimated_day + timedelta(days=1),
        delivered_at=_moment(row["order_delivered_customer_date"]),
    )


def olist_records(rows: Iterable[Mapping[str, str]]) -> list[ShipmentRecord]:
    return [record for row in rows if (record := olist_record(row)) is not None]


def olist_texts(rows: Iterable[Mapping[str, str]]) -> list[LabelledText]:
    """Reviews with a clear majority subclass, title and message joined."""
    texts: list[LabelledText] = []
    for row in rows:
        topic = SUBCLASS_TOPICS.get(row["most_voted_subclass"].strip())
        text = " ".join(
            part.strip()
            for part in (row["review_comment_title"], row["review_comment_message"])
            if part.strip()
        )
        if topic is None or not text:
            continue
        texts.append(LabelledText(source_id=f"olist-{row['id']}", text=text, topic=topic))
    return texts
