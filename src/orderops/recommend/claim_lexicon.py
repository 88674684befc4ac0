"""The words the claim reader knows, in the four languages the desk drafts in (en, es, pt,
de): numbers written out, currencies, days, and the verbs of the actions a draft can claim.

Month and weekday names and currency symbols come from CLDR through babel, so they are
the ones each language really uses; the rest are short hand-kept tables. A word missing
here makes the reader blind to a claim, so the red team (``data/redteam*.yaml``) holds
the tables to account.
"""

from __future__ import annotations

import re
from functools import cache

from babel.dates import get_day_names, get_month_names
from babel.numbers import get_currency_symbol

from orderops.recommend.claims import Action
from orderops.recommend.formatting import LANGUAGES

CURRENCIES = ("USD", "EUR", "GBP", "BRL")

NUMBER_WORDS: dict[str, int] = {
    # en
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
    # es
    "cero": 0, "uno": 1, "un": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12,
    "trece": 13, "catorce": 14, "quince": 15, "dieciséis": 16, "dieciseis": 16,
    "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20, "veintiuno": 21,
    "veintiún": 21, "veintidós": 22, "veintidos": 22, "veintitrés": 23, "veintitres": 23,
    "veinticuatro": 24, "veinticinco": 25, "veintiséis": 26, "veintiseis": 26,
    "veintisiete": 27, "veintiocho": 28, "veintinueve": 29, "treinta": 30, "cuarenta": 40,
    "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80, "noventa": 90,
    "cien": 100, "ciento": 100, "doscientos": 200, "doscientas": 200, "trescientos": 300,
    "cuatrocientos": 400, "quinientos": 500, "seiscientos": 600, "setecientos": 700,
    "ochocientos": 800, "novecientos": 900,
    # pt
    "um": 1, "uma": 1, "dois": 2, "duas": 2, "três": 3, "quatro": 4, "sete": 7, "oito": 8,
    "nove": 9, "dez": 10, "onze": 11, "doze": 12, "treze": 13, "quatorze": 14,
    "quinze": 15, "dezasseis": 16, "dezesseis": 16, "dezassete": 17, "dezessete": 17,
    "dezoito": 18, "dezanove": 19, "dezenove": 19, "vinte": 20, "trinta": 30,
    "quarenta": 40, "cinquenta": 50, "sessenta": 60, "oitenta": 80, "cem": 100,
    "cento": 100, "duzentos": 200, "duzentas": 200, "trezentos": 300,
    "quatrocentos": 400, "quinhentos": 500, "seiscentos": 600, "setecentos": 700,
    "oitocentos": 800, "novecentos": 900,
    # de (compounds such as "fünfundzwanzig" are read piece by piece)
    "null": 0, "eins": 1, "ein": 1, "eine": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5,
    "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10, "elf": 11, "zwölf": 12,
    "dreizehn": 13, "vierzehn": 14, "fünfzehn": 15, "sechzehn": 16, "siebzehn": 17,
    "achtzehn": 18, "neunzehn": 19, "zwanzig": 20, "dreißig": 30, "dreissig": 30,
    "vierzig": 40, "fünfzig": 50, "sechzig": 60, "siebzig": 70, "achtzig": 80,
    "neunzig": 90,
}  # fmt: skip
HUNDREDS = frozenset({"hundred", "hundert"})
THOUSANDS = frozenset({"thousand", "mil", "tausend"})
CONNECTORS = frozenset({"and", "y", "e", "und"})
_PIECES = sorted([*NUMBER_WORDS, *HUNDREDS, *THOUSANDS, "und"], key=len, reverse=True)
_PIECE = "|".join(_PIECES)
NUMBER_PHRASE = rf"(?:{_PIECE})+(?:[\s-]+(?:(?:and|y|e|und)\s+)?(?:{_PIECE})+)*"
"""Numbers in words: "twenty-five", "veinticinco", "vinte e cinco", "fünfundzwanzig"."""


def words_to_number(phrase: str) -> int | None:
    """The value of a number written in words, or None when a piece is unknown."""
    total = current = 0
    seen = False
    for word in re.split(r"[\s-]+", phrase.lower()):
        if not word or word in CONNECTORS:
            continue
        for piece in _pieces(word):
            if piece is None:
                return None
            if piece in CONNECTORS:
                continue
            seen = True
            if piece in HUNDREDS:
                current = (current or 1) * 100
            elif piece in THOUSANDS:
                total += (current or 1) * 1000
                current = 0
            else:
                current += NUMBER_WORDS[piece]
    return total + current if seen else None


def _pieces(word: str) -> list[str | None]:
    """``fünfundzwanzig`` -> ``fünf``, ``und``, ``zwanzig`` (longest piece first)."""
    found: list[str | None] = []
    at = 0
    while at < len(word):
        piece = next((p for p in _PIECES if word.startswith(p, at)), None)
        if piece is None:
            return [None]
        found.append(piece)
        at += len(piece)
    return found


CURRENCY_WORDS: dict[str, str] = {
    r"(?:us[\s-]?)?dollars?|d[óo]lar(?:es)?|us-dollar": "USD",
    r"euros?": "EUR",
    r"pounds?(?:\s+sterling)?|libras?(?:\s+esterlinas?)?|pfund": "GBP",
    r"reais|real": "BRL",
}
CENT_WORDS = r"cents?|c[ée]ntimos?|centavos?"
PERCENT_WORDS = r"\s?%|\s?(?:percent|per\s+cent|por\s+ciento|por\s+cento|prozent)\b"
HALF_WORDS = r"\bhalf\b|\bla\s+mitad\b|\bmetade\b|\bh[äa]lfte\b|\bhalbe[nr]?\b"


@cache
def currency_symbols() -> dict[str, str]:
    """Symbol or code as written -> ISO code, from CLDR for each of our languages."""
    symbols = {code: code for code in CURRENCIES}
    for code in CURRENCIES:
        for language in LANGUAGES:
            symbol = get_currency_symbol(code, locale=language)
            symbols.setdefault(symbol, code)
    symbols.update({"$": "USD", "US$": "USD", "R$": "BRL", "€": "EUR", "£": "GBP"})
    return symbols


@cache
def month_numbers() -> dict[str, int]:
    """Every wide and abbreviated month name (lower case, no dot) -> month number."""
    names: dict[str, int] = {}
    for language in LANGUAGES:
        for width in ("wide", "abbreviated"):
            for number, name in get_month_names(width, locale=language).items():
                names.setdefault(name.lower().rstrip("."), int(number))
    return names


@cache
def weekday_numbers() -> dict[str, int]:
    """Weekday names -> Monday 0 .. Sunday 6 (``sexta-feira`` and ``sexta`` alike)."""
    names: dict[str, int] = {}
    for language in LANGUAGES:
        for number, name in get_day_names("wide", locale=language).items():
            lowered = name.lower()
            names[lowered] = int(number)
            if lowered.endswith("-feira"):
                names[lowered.removesuffix("-feira")] = int(number)
    return names


RELATIVE_DAYS: dict[str, int] = {
    "today": 0, "tonight": 0, "tomorrow": 1, "yesterday": -1, "day after tomorrow": 2,
    "hoy": 0, "mañana": 1, "ayer": -1, "pasado mañana": 2,
    "hoje": 0, "amanhã": 1, "ontem": -1, "depois de amanhã": 2,
    "heute": 0, "morgen": 1, "gestern": -1, "übermorgen": 2,
}  # fmt: skip
IN_DAYS = re.compile(
    r"\b(?:in|within|en|em|dentro\s+de|innerhalb\s+von|binnen)\s+"
    r"(?P<n>\d{1,3})(?:\s*[-\u2013]\s*(?P<m>\d{1,3}))?\s+"
    r"(?:(?:business|working|h[áa]biles|[úu]teis)\s+)?"
    r"(?P<unit>days?|d[íi]as?|tag(?:e|en)?|werktag(?:e|en)?|hours?|horas?|stunden?)\b"
    r"(?:\s+(?:h[áa]biles|[úu]teis))?",
    re.IGNORECASE,
)
VAGUE_TIMES = re.compile(
    r"\b(?:this|next)\s+week(?:end)?\b|\besta\s+semana\b|\b(?:la\s+)?pr[óo]xima\s+semana\b"
    r"|\bdiese\s+woche\b|\bn[äa]chste\s+woche\b|\bshortly\b|\bright\s+away\b"
    r"|\bimmediately\b|\bde\s+inmediato\b|\bimediatamente\b|\bsofort\b",
    re.IGNORECASE,
)

ORDER_WORDS = r"order|pedido|encomenda|bestellung|bestellnummer"
PART_OF_ORDER = re.compile(
    r"\b(?:from|off|of|del|da|aus|von|der)\s+(?:(?:the|your|su|sua|ihrer|ihr|el|la|a|o)\s+)?"
    rf"(?:{ORDER_WORDS})\b",
    re.IGNORECASE,
)
"""An order named as where something was taken from: "removed from order #2040"."""
CONDITIONAL = re.compile(
    r"\b(?:as\s+soon\s+as|once|when|sobald|wenn|en\s+cuanto|cuando|tan\s+pronto"
    r"|assim\s+que|logo\s+que|quando)\b",
    re.IGNORECASE,
)
"""Shipping promised on a condition ("we'll ship it as soon as the payment goes through")
is the order's normal course, not a remedy."""
MESSAGE_WORDS = re.compile(
    r"\b(?:e-?mails?|messages?|updates?|news|link|correos?|mensajes?|mensagens?|novedades"
    r"|not[íi]cias|enlace|liga[çc][ãa]o|nachricht\w*|info\w*|neuigkeiten)\b",
    re.IGNORECASE,
)
SEND_VERBS = re.compile(r"(?:ge)?(?:envi|mand|schick|verschick|versend)", re.IGNORECASE)
"""Verbs that send a parcel or a message alike: beside MESSAGE_WORDS they ship nothing."""
PARCEL_WORDS = re.compile(
    rf"\b(?:{ORDER_WORDS}|parcel|package|delivery|paquete|env[íi]o|entrega|pacote|encomenda"
    r"|paket|sendung|lieferung)\b",
    re.IGNORECASE,
)
"""A future day beside these, with no verb the reader knows, still promises a delivery:
"your parcel will land on Thursday"."""
ITEM_WORDS = re.compile(
    r"\b(?:items?|products?|lines?|art[íi]culos?|productos?|artigos?|produtos?|artikel\w*"
    r"|position(?:en)?)\b",
    re.IGNORECASE,
)
WHOLE_WORDS = re.compile(
    r"\b(?:whole|entire|full|fully|in\s+full|everything|complete"
    r"|all\s+(?:of\s+)?(?:the\s+|your\s+)?(?:items|products|order)"
    r"|todo\s+el\s+pedido|pedido\s+completo|totalidade?|total|totalmente|[íi]ntegr[oa]"
    r"|completo|completa|toda\s+a\s+encomenda|encomenda\s+completa|integral(?:mente)?"
    r"|gesamte[nr]?|ganze[nr]?|vollst[äa]ndig\w*|komplett\w*|voll|volle[nr]?"
    r"|alle\s+artikel)\b",
    re.IGNORECASE,
)
NEGATION = re.compile(
    r"\b(?:not|never|cannot|unable|no|nicht|kein\w*|nie|n[ãa]o|nunca|ni)\b|n't\b",
    re.IGNORECASE,
)
NOT_A_PROMISE = re.compile(
    r"\bso\s+(?:that\s+)?we\s+can\b|\bpara\s+que\s+podamos\b|\bpara\s+podermos\b"
    r"|\bdamit\s+wir\b|\byou\s+(?:can|may)\b|\b(?:usted\s+)?puede\s+(?:solicitar|pedir)\b"
    r"|\bpode\s+(?:pedir|solicitar)\b|\bsie\s+k[öo]nnen\b|\bk[öo]nnen\s+sie\b",
    re.IGNORECASE,
)
FUTURE = re.compile(
    r"\b(?:will|shall|going\s+to|vamos\s+a|va\s+a|vai|vamos|irá|iremos|wird|werden)\b|'ll\b",
    re.IGNORECASE,
)
PERFECT = re.compile(
    r"\b(?:have|has|had|was|were|been|hemos|ha|han|fue|foi|foram|temos|tem|haben|hat"
    r"|wurde|wurden|ist|sind)\b",
    re.IGNORECASE,
)

ACTION_WORDS: tuple[tuple[Action, re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (action, re.compile(mention, re.IGNORECASE), re.compile(done, re.IGNORECASE))
    for action, mention, done in (
        (
            Action.REFUND,
            r"\b(?:refund\w*|reimburs\w*|money\s+(?:is\s+)?(?:coming\s+)?back"
            r"|revers(?:e|ed|al|ing)\b|pay\s+(?:you\s+)?back|reembols\w*|devolv\w*"
            r"|devoluci[óo]n|devuelto|reintegr\w*|estorn\w*|r[üu]ckerstatt\w*|erstatt\w*"
            r"|zur[üu]ckgezahlt|zur[üu]ckzahl\w*|zahlen\s.{0,40}\bzur[üu]ck"
            r"|geld\s.{0,40}\bzur[üu]ck)",
            r"refunded|reimbursed|reembolsad|reembolsamos|reembols[áa]mos|devuelto|devolvimos"
            r"|estornad|estorn[áa]mos|erstattet|veranlasst|zur[üu]ckgezahlt",
        ),
        (
            Action.CREDIT,
            r"\b(?:store\s+credit|account\s+credit|credit(?:ed)?\s+(?:to\s+)?your\s+account"
            r"|gift\s+card|voucher|(?<!tarjeta\sde\s)(?<!cart[ãa]o\sde\s)cr[ée]dito"
            r"|saldo\s+a\s+favor|tarjeta\s+regalo|cart[ãa]o[\s-]presente|guthaben"
            r"|gutschrift|gutgeschrieben|gutschein|credited|abon\w*|creditad\w*"
            r"|credit[áa]mos)\b",
            r"added|credited|a[ñn]adido|adicion[áa]mos|gutgeschrieben",
        ),
        (
            Action.DISCOUNT,
            r"\b(?:discount\w*|coupon|promo\s+code|\d+\s?%\s+off|half\s+off|off\s+your"
            r"|descuento|cup[óo]n|desconto|cup[ãa]o|cupom|rabatt\w*|preisnachlass"
            r"|on\s+us|on\s+the\s+house|free\s+(?:next\s+)?order|regalamos|de\s+regalo"
            r"|por\s+nuestra\s+cuenta|por\s+nossa\s+conta|geht\s+auf\s+uns|waiv\w*"
            r"|won't\s+be\s+charged|will\s+not\s+be\s+charged|(?:is|are)\s+(?:now\s+)?free"
            r"|cover\s+the\s+cost\s+of\s+(?:the|your)\s+order|sin\s+cargo\s+alguno"
            r"|nicht\s+berechnet|erlass\w*|oferec\w*(?:-lhe)?\s+os\s+portes|portes\s+gr[áa]tis"
            r"|env[íi]o\s+gratis|free\s+shipping\s+on\s+your\s+next)\b",
            r"(?!)",
        ),
        (
            Action.CANCEL,
            r"\b(?:cancel\w*|anul\w*|storn\w*|removed|retirad[oa]|retir[áa]mo|entfernt)",
            r"cancel+ed|cancelad|cancelamos|cancel[áa]mos|anulad|storniert|removed"
            r"|retirad|retir[áa]mo|entfernt|mussten",
        ),
        (
            Action.RESHIP,
            r"\b(?:replacement|replace[ds]?|resen[dt]\w*|re-?ship\w*|new\s+parcel"
            r"|reemplazo|reposici[óo]n|reenv\w*|nuevo\s+env[íi]o|substitui[çc][ãa]o"
            r"|nova\s+encomenda|new\s+delivery|nueva\s+entrega|nova\s+entrega"
            r"|neue\s+lieferung|(?:a\s+)?new\s+one\b|another\s+one\b|ersatz(?!artikel)\w*|erneut\s+(?:ge)?(?:senden|sendet|schickt?)"
            r"|neu\s+(?:ge)?(?:senden|sendet|schickt?))",
            r"replaced|resent|reshipped|reenviad|ersetzt",
        ),
        (
            Action.SUBSTITUTE,
            r"\b(?:substitut(?:e|ed|es|ing|ion)\b|(?:close\s+)?equivalent|swap\w*"
            r"|sustitut\w*|equivalente|substituto|gleichwertig\w*|ersatzartikel"
            r"|ausgetauscht|austauschen)",
            r"substituted|swapped|sustituido|ausgetauscht",
        ),
        (
            Action.UPGRADE,
            r"\b(?:upgrad\w*|mejor\w*\s+(?:su\s+|el\s+)?env[íi]o|melhor\w*\s+o\s+envio"
            r"|upgegradet|versand\b.{0,40}\bumgestellt)",
            r"upgraded|mejorado|mejoramos|melhor[áa]mos|upgegradet|umgestellt",
        ),
        (
            Action.SHIP,
            r"\b(?:shipped|ships|ship\b|dispatch\w*|on\s+(?:its|the|their)\s+way|in\s+transit"
            r"|out\s+for\s+delivery|envi(?:ado|ada|ados|adas|aremos|ar[áa]|amos)\b"
            r"|se\s+env[íi]a|sale\s+hoy|despach\w*|en\s+camino|en\s+tr[áa]nsito|expedid\w*"
            r"|expedimos|a\s+caminho|em\s+tr[âa]nsito|sai\s+hoje|segue\s+hoje"
            r"|in\s+the\s+post|zur\s+post\s+gebracht|mand(?:amos|aremos|ado|ada)\b"
            r"|rushed\s+out|sent\s+out|goes\s+out|left\s+(?:our|the)\s+warehouse"
            r"|sali[óo]\s+del\s+almac[ée]n|saiu\s+do\s+armaz[ée]m|lager\s+verlassen|geschickt"
            r"|versandt|verschickt|versendet|versenden|verschicken|schicken|unterwegs"
            r"|auf\s+dem\s+weg|geht\s+(?:heute|morgen)\s+raus)",
            r"shipped|dispatched|on\s+(?:its|the|their)\s+way|in\s+transit|out\s+for\s+delivery"
            r"|enviad|despachad|en\s+camino|en\s+tr[áa]nsito|expedid|a\s+caminho"
            r"|em\s+tr[âa]nsito|versandt|verschickt|versendet|unterwegs|auf\s+dem\s+weg"
            r"|left|sali[óo]|saiu|verlassen|geschickt|in\s+the\s+post|zur\s+post\s+gebracht",
        ),
        (
            Action.DELIVER,
            r"\b(?:delivered|arrived|arrive|arrives|be\s+with\s+you|entregad\w*"
            r"|lleg[óo]|ha\s+llegado|llegar[áa]|llega|entregue|chegou|chegar[áa]|chega"
            r"|zugestellt|geliefert|angekommen|ankam|ankommen|kommt|eintreffen|eintrifft"
            r"|at\s+your\s+door|in\s+your\s+hands|expect\s+it|lo\s+tiene\s+en\s+casa"
            r"|get\s+it|receive\w*|recibir[áa]\w*|recibe\w*|receber\w*|recebe\w*|erhalten"
            r"|bekommen|estar[áa]\s+en\s+su\s+casa|estar[áa]\s+em\s+sua\s+casa"
            r"|en\s+sus\s+manos|nas\s+suas\s+m[ãa]os|vor\s+Ihrer\s+T[üu]r)",
            r"delivered|arrived|entregad|lleg[óo]|ha\s+llegado|entregue|chegou|zugestellt"
            r"|geliefert|angekommen|ankam",
        ),
    )
)
"""Per action: how a draft mentions it, and the forms that say it already happened."""
