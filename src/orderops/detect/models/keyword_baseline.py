"""A keyword classifier: the plain rule the learned text classifier must beat.

A short list of stems per topic in English, Portuguese, Spanish, German and
French, matched at word starts after lower-casing and removing accents. The list
was written once from general knowledge of how customers complain, not tuned on
the evaluation split; it is what a support lead would set up on day one. The
topic with the most hits wins; ties go to the earlier topic in ``PRIORITY``
(money and cancellations first); no hit means ``other``.
"""

from __future__ import annotations

import re
import unicodedata

from orderops.detect.models.topics import TicketTopic

KEYWORDS: dict[TicketTopic, tuple[str, ...]] = {
    TicketTopic.CANCELLATION: ("cancel", "stornier", "annul"),
    TicketTopic.RETURN_OR_REFUND: (
        "return",
        "refund",
        "money back",
        "send back",
        "devolu",
        "devolver",
        "reembols",
        "dinheiro de volta",
        "estorno",
        "troca",
        "ruckgabe",
        "erstattung",
        "zuruck",
        "rembours",
        "retour",
    ),
    TicketTopic.PARTIAL_DELIVERY: (
        "missing",
        "only received",
        "partial",
        "incomplet",
        "faltando",
        "faltou",
        "falta",
        "so recebi",
        "somente um",
        "apenas um",
        "parcial",
        "solo recibi",
        "fehlt",
        "teillieferung",
        "manqu",
        "partiel",
    ),
    TicketTopic.WRONG_OR_NOT_AS_DESCRIBED: (
        "wrong item",
        "wrong product",
        "not as described",
        "not what i ordered",
        "different",
        "errad",
        "diferente",
        "outro produto",
        "nao corresponde",
        "equivocad",
        "incorrect",
        "falsch",
        "anders als",
        "mauvais produit",
        "pas conforme",
    ),
    TicketTopic.QUALITY: (
        "quality",
        "broken",
        "defect",
        "damaged",
        "poor",
        "qualidade",
        "quebrad",
        "defeito",
        "danificad",
        "ruim",
        "fragil",
        "pessim",
        "calidad",
        "roto",
        "danad",
        "qualitat",
        "kaputt",
        "defekt",
        "beschadigt",
        "qualite",
        "casse",
        "abime",
    ),
    TicketTopic.LATE: (
        "late",
        "delay",
        "not arrived",
        "not received",
        "where is my order",
        "still waiting",
        "atras",
        "demor",
        "nao chegou",
        "nao recebi",
        "aguardando",
        "fora do prazo",
        "retras",
        "no ha llegado",
        "no llego",
        "verspat",
        "noch nicht",
        "nicht geliefert",
        "retard",
        "pas encore",
        "pas arrive",
    ),
    TicketTopic.ADDRESS_CHANGE: (
        "change address",
        "change my address",
        "new address",
        "wrong address",
        "endereco",
        "direccion",
        "adresse",
    ),
}

PRIORITY: tuple[TicketTopic, ...] = tuple(KEYWORDS)

_PATTERNS: dict[TicketTopic, tuple[re.Pattern[str], ...]] = {
    topic: tuple(re.compile(r"\b" + re.escape(stem)) for stem in stems)
    for topic, stems in KEYWORDS.items()
}


def normalise(text: str) -> str:
    """Lower-case without accents, so "não"/"nao" and "Qualität"/"qualitat" match."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def classify_by_keywords(text: str) -> TicketTopic:
    clean = normalise(text)
    best = TicketTopic.OTHER
    best_hits = 0
    for topic in PRIORITY:
        hits = sum(1 for pattern in _PATTERNS[topic] if pattern.search(clean))
        if hits > best_hits:
            best, best_hits = topic, hits
    return best
