"""From records to people: blocking, pairwise matching, clusters and their golden ids.

Comparing every pair is O(n^2): 100,000 customers would be five billion comparisons.
Blocking compares only records that share a cheap key (postal code, the last seven
digits of the phone, a Soundex key of the name, the email local part, a provider id);
a true duplicate shares at least one of them unless every field changed at once.
Oversized blocks (a key everyone shares, such as a default postal code) are skipped
and counted, rather than quietly making the run quadratic again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from orderops.resolve.identity.matching import DEFAULT_POLICY, CustomerRecord, MatchPolicy, compare
from orderops.resolve.identity.normalise import soundex

MAX_BLOCK = 200
"""A block larger than this is skipped: its key does not discriminate."""


def blocking_keys(record: CustomerRecord) -> set[str]:
    keys: set[str] = set()
    if record.postal_code:
        keys.add(f"postal:{record.postal_code}")
    if record.phone and len(record.phone) >= 8:
        keys.add(f"phone:{record.phone[-7:]}")
    if record.name:
        keys.add("name:" + "-".join(sorted(soundex(token) for token in record.name.split())))
    if record.email_local:
        keys.add(f"email:{record.email_local}")
    keys.update(f"provider:{source}:{ref}" for source, ref in record.provider_ids)
    return keys


@dataclass(frozen=True)
class BlockingStats:
    records: int
    blocks: int
    skipped_blocks: int
    candidate_pairs: int

    @property
    def all_pairs(self) -> int:
        return self.records * (self.records - 1) // 2


def candidate_pairs(
    records: Sequence[CustomerRecord], *, max_block: int = MAX_BLOCK
) -> tuple[set[tuple[str, str]], BlockingStats]:
    """Pairs (sorted ids) that share at least one blocking key."""
    blocks: dict[str, list[str]] = defaultdict(list)
    for record in records:
        for key in blocking_keys(record):
            blocks[key].append(record.record_id)
    pairs: set[tuple[str, str]] = set()
    skipped = 0
    for members in blocks.values():
        if len(members) > max_block:
            skipped += 1
            continue
        pairs.update((a, b) if a < b else (b, a) for a, b in combinations(members, 2) if a != b)
    stats = BlockingStats(len(records), len(blocks), skipped, len(pairs))
    return pairs, stats


@dataclass(frozen=True)
class Link:
    """Why one record is in its cluster: the strongest match that put it there."""

    method: str
    """``exact:email``, ``exact:provider_id``, ``probabilistic`` or ``singleton``."""
    score: float | None
    partner: str | None
    explanation: str


@dataclass(frozen=True)
class Resolution:
    clusters: tuple[frozenset[str], ...]
    links: Mapping[str, Link]
    stats: BlockingStats
    matched_pairs: int = 0
    compared_pairs: int = 0
    cluster_of: Mapping[str, int] = field(default_factory=dict)


def resolve(records: Sequence[CustomerRecord], policy: MatchPolicy = DEFAULT_POLICY) -> Resolution:
    """Cluster records into people: matched pairs joined transitively (union-find)."""
    by_id = {record.record_id: record for record in records}
    pairs, stats = candidate_pairs(records)
    parent = {record_id: record_id for record_id in by_id}

    def find(item: str) -> str:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    best: dict[str, Link] = {}
    matched = 0
    for left, right in sorted(pairs):
        result = compare(by_id[left], by_id[right], policy)
        if not result.matched:
            continue
        matched += 1
        root_left, root_right = find(left), find(right)
        if root_left != root_right:
            parent[max(root_left, root_right)] = min(root_left, root_right)
        for me, other in ((left, right), (right, left)):
            link = Link(result.method, result.score, other, result.explain())
            if _stronger(link, best.get(me)):
                best[me] = link
    groups: dict[str, set[str]] = defaultdict(set)
    for record_id in by_id:
        groups[find(record_id)].add(record_id)
    clusters = tuple(sorted((frozenset(g) for g in groups.values()), key=lambda g: min(g)))
    singleton = Link("singleton", None, None, "no other record matched")
    links = {record_id: best.get(record_id, singleton) for record_id in by_id}
    cluster_of = {member: index for index, group in enumerate(clusters) for member in group}
    return Resolution(clusters, links, stats, matched, len(pairs), cluster_of)


def _stronger(link: Link, current: Link | None) -> bool:
    if current is None:
        return True

    def rank(item: Link) -> tuple[bool, float]:
        return item.method.startswith("exact"), item.score or 0.0

    return rank(link) > rank(current)


def assign_golden_ids(
    clusters: Iterable[frozenset[str]],
    current: Mapping[str, str],
    new_id: Callable[[], str],
) -> dict[str, str]:
    """A golden id per record, keeping existing ids wherever the clustering allows.

    Larger clusters choose first; each takes the golden id most of its members already
    have (ties to the smallest id), unless a larger cluster took it; otherwise a new one.
    Re-running a resolution that found nothing new therefore changes nothing.
    """
    taken: set[str] = set()
    assignment: dict[str, str] = {}
    for cluster in sorted(clusters, key=lambda c: (-len(c), min(c))):
        votes = Counter(current[m] for m in cluster if m in current)
        ranked = sorted(votes.items(), key=lambda item: (-item[1], item[0]))
        golden = next((g for g, _ in ranked if g not in taken), None) or new_id()
        taken.add(golden)
        assignment.update(dict.fromkeys(cluster, golden))
    return assignment


def pairwise_scores(predicted: Mapping[str, str], truth: Mapping[str, str]) -> tuple[int, int, int]:
    """(true positive, predicted, actual) same-entity pairs over the ids both know.

    Pairs are counted from group sizes (n choose 2), so this is linear, not quadratic.
    """
    ids = [i for i in truth if i in predicted]
    pairs_in = Counter((predicted[i], truth[i]) for i in ids)
    predicted_groups = Counter(predicted[i] for i in ids)
    truth_groups = Counter(truth[i] for i in ids)

    def choose2(counts: Iterable[int]) -> int:
        return sum(n * (n - 1) // 2 for n in counts)

    return (
        choose2(pairs_in.values()),
        choose2(predicted_groups.values()),
        choose2(truth_groups.values()),
    )
