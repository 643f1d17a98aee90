"""Raw material for simulated prompts: real text from the standard library's docstrings, and word lists.

The docstrings give documents to ask about, sentences to translate or summarise, and real API names for
coding questions. They differ slightly between Python versions, so byte-identical output is promised
for the same config on the same Python version.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Sequence
from random import Random
from typing import NamedTuple, TypeVar

T = TypeVar("T")

_MODULES = (
    "json",
    "csv",
    "textwrap",
    "string",
    "collections",
    "itertools",
    "functools",
    "heapq",
    "bisect",
    "statistics",
    "fractions",
    "decimal",
    "datetime",
    "calendar",
    "difflib",
    "pathlib",
    "shutil",
    "tempfile",
    "argparse",
    "logging",
    "re",
    "random",
    "math",
    "hashlib",
    "base64",
    "zipfile",
    "sqlite3",
    "urllib.parse",
    "unittest",
    "typing",
    "dataclasses",
    "enum",
    "contextlib",
    "threading",
    "subprocess",
    "socket",
    "pickle",
    "copy",
    "pprint",
    "operator",
    "uuid",
    "secrets",
    "gzip",
    "glob",
    "fnmatch",
    "shlex",
    "configparser",
    "html",
    "colorsys",
    "graphlib",
    "zoneinfo",
    "ipaddress",
    "queue",
    "sched",
    "struct",
    "weakref",
    "abc",
    "codecs",
    "locale",
    "gettext",
    "mimetypes",
    "tarfile",
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_WORD = re.compile(r"[A-Za-z][A-Za-z_]{4,}")


class Corpus(NamedTuple):
    apis: list[tuple[str, str]]
    """(dotted name, one-line summary) of documented public functions and classes."""
    documents: list[tuple[str, str]]
    """(title, paragraph) pairs of prose, 150 to 900 characters."""
    sentences: list[str]
    """Single prose sentences, 30 to 160 characters."""


def _paragraphs(doc: str) -> list[str]:
    found = []
    for block in doc.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines or any(line.startswith((" ", ">>>", "..", "$", "|", "-", "*", "+")) for line in lines):
            continue
        text = " ".join(line.strip() for line in lines)
        if 150 <= len(text) <= 900 and text[0].isupper() and text.endswith("."):
            found.append(text)
    return found


@functools.cache
def corpus() -> Corpus:
    """Everything mined from the docstrings, in a fixed order (module list order, then sorted names)."""
    apis: list[tuple[str, str]] = []
    documents: list[tuple[str, str]] = []
    for name in _MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # a Python built without sqlite3 or zoneinfo data
            continue
        documents += [(name, p) for p in _paragraphs(inspect.getdoc(module) or "")]
        for attr in sorted(getattr(module, "__all__", None) or dir(module)):
            obj = getattr(module, attr, None)
            if attr.startswith("_") or not (
                inspect.isfunction(obj) or inspect.isclass(obj) or inspect.isbuiltin(obj)
            ):
                continue
            doc = inspect.getdoc(obj) or ""
            first = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
            if 20 <= len(first) <= 200 and not first.startswith(attr + "("):
                apis.append((f"{name}.{attr}", first))
            documents += [(f"{name}.{attr}", p) for p in _paragraphs(doc)]
    sentences = sorted(
        {
            s
            for _, p in documents
            for s in _SENTENCE_END.split(p)
            if 30 <= len(s) <= 160 and s.endswith(".") and "`" not in s
        }
    )
    return Corpus(apis, documents, sentences)


def pick(r: Random, items: Sequence[T]) -> T:
    """`r.choice(items)`, three times faster (what the hot paths use)."""
    return items[int(r.random() * len(items))]


def between(r: Random, low: int, high: int) -> int:
    """`r.randint(low, high)`, faster."""
    return low + int(r.random() * (high - low + 1))


def terms(text: str) -> list[str]:
    """Longer words of a text that a question could be about, first occurrence order."""
    return list(dict.fromkeys(w for w in _WORD.findall(text) if w.lower() not in _COMMON))


_COMMON = {
    "which",
    "there",
    "these",
    "their",
    "other",
    "where",
    "would",
    "should",
    "could",
    "about",
    "after",
    "before",
    "being",
    "every",
    "first",
    "given",
    "might",
    "never",
    "since",
    "still",
    "those",
    "under",
    "until",
    "using",
    "while",
    "always",
    "returns",
    "return",
    "default",
    "argument",
    "arguments",
    "object",
    "objects",
    "function",
    "functions",
    "value",
    "values",
    "module",
    "method",
    "methods",
    "called",
}

NAMES = (
    "Ann",
    "Ben",
    "Carla",
    "Dev",
    "Elif",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Yara",
    "Zoe",
)
LANGS = ("Python", "JavaScript", "TypeScript", "Go", "Rust", "Java", "C#", "SQL", "Bash", "C++", "Kotlin")
CODE_TASKS = (
    "reverse a string",
    "read a CSV file into a list of dicts",
    "parse JSON from an HTTP response",
    "remove duplicates from a list while keeping order",
    "sort a dictionary by value",
    "merge two sorted arrays",
    "debounce a function",
    "retry a failing request with backoff",
    "validate an email address",
    "flatten a nested list",
    "compute a moving average",
    "find the most common element in a list",
    "convert a timestamp to UTC",
    "read a large file line by line",
    "run several tasks in parallel",
    "paginate a database query",
    "check whether a string is a palindrome",
    "memoize an expensive function",
    "stream a large file download",
    "write a unit test for a function",
    "group records by a key",
    "add a timeout to a network call",
    "serialize an object to JSON",
    "count words in a text file",
    "rename files in a folder by date",
    "chunk a list into batches",
    "parse command-line arguments",
    "hash a password safely",
    "walk a directory tree",
    "format a number with thousands separators",
    "deep-copy a nested structure",
)
CODE_ERRORS = (
    "TypeError: 'NoneType' object is not subscriptable",
    "KeyError: 'id'",
    "IndexError: list index out of range",
    "ModuleNotFoundError: No module named 'yaml'",
    "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0",
    "RecursionError: maximum recursion depth exceeded",
    "ConnectionRefusedError: [Errno 111] Connection refused",
    "TypeError: undefined is not a function",
    "cannot borrow `x` as mutable more than once at a time",
    "java.lang.NullPointerException",
    "segmentation fault (core dumped)",
    "ValueError: too many values to unpack (expected 2)",
    "fatal: refusing to merge unrelated histories",
    "Permission denied (publickey)",
    "sqlite3.OperationalError: database is locked",
)
CODE_ACTIONS = (
    "run my script",
    "call the API",
    "start the server",
    "run the tests",
    "deploy to staging",
    "open the file",
    "push to the remote",
    "import my module",
    "query the database",
)
CODE_PAIRS = (
    ("a list", "a tuple"),
    ("== ", "is"),
    ("let", "const"),
    ("an interface", "an abstract class"),
    ("threads", "async tasks"),
    ("a process", "a thread"),
    ("a shallow copy", "a deep copy"),
    ("INNER JOIN", "LEFT JOIN"),
    ("git merge", "git rebase"),
    ("a stack", "a queue"),
)
OCCASIONS = (
    "a rainy weekend",
    "a 10-year-old's birthday party",
    "a team offsite",
    "a first date",
    "a family reunion",
    "a small garden",
    "a retirement card",
    "a book club meeting",
    "a road trip",
)
DISHES = (
    "lasagna",
    "banana bread",
    "a vegetable curry",
    "pancakes",
    "chili",
    "a lentil soup",
    "brownies",
    "a stir fry",
    "a quiche",
    "risotto",
)
INGREDIENTS = ("eggs", "dairy", "gluten", "an oven", "sugar", "meat", "butter", "onions")
RECIPIENTS = ("landlord", "manager", "professor", "neighbour", "team", "bank", "kid's teacher", "client")
EMAIL_TOPICS = (
    "a broken heater",
    "taking next Friday off",
    "an extension on my essay",
    "a noisy party",
    "a late invoice",
    "a schedule change",
    "a refund",
    "a project delay",
)
TONES = ("polite", "firm but friendly", "short", "formal", "warm")
GENRES = ("poem", "story", "limerick", "song verse", "bedtime story", "haiku sequence")
SUBJECTS = (
    "a lighthouse keeper",
    "the first snow",
    "a lost umbrella",
    "a cat who learns to code",
    "autumn in the city",
    "a robot gardener",
    "an old bicycle",
    "the night shift",
    "a dragon afraid of heights",
)
GOALS = (
    "sleep better",
    "save money on groceries",
    "stop procrastinating",
    "learn a language faster",
    "keep houseplants alive",
    "prepare for a job interview",
    "run a 5k",
    "declutter my flat",
    "get better at public speaking",
    "drink less coffee",
)
PLACES = (
    "Lisbon",
    "Kyoto",
    "Iceland",
    "Mexico City",
    "the Scottish Highlands",
    "Cape Town",
    "Vancouver",
    "Istanbul",
)
MONTHS = ("January", "March", "April", "June", "August", "October", "November", "December")
CONCEPTS = (
    "inflation",
    "photosynthesis",
    "compound interest",
    "black holes",
    "vaccines",
    "the stock market",
    "machine learning",
    "climate change",
    "supply and demand",
    "DNA",
    "blockchains",
    "gravity",
    "the immune system",
    "recursion",
    "entropy",
    "natural selection",
    "interest rates",
    "plate tectonics",
)
FIELDS = (
    "economics",
    "biology",
    "physics",
    "computer science",
    "chemistry",
    "statistics",
    "history",
    "psychology",
    "linguistics",
    "law",
)
AUDIENCES = ("a five-year-old", "a high-school student", "a new employee", "my grandmother", "a beginner")
CHOICES = (
    "renting vs buying a home",
    "electric vs petrol cars",
    "working from home",
    "a gap year",
    "learning Rust vs Go",
    "index funds",
    "a standing desk",
    "freelancing",
)
LANGUAGES = ("French", "Spanish", "German", "Italian", "Portuguese", "Japanese", "Dutch", "Polish", "Turkish")
EVERYDAY_SENTENCES = (
    "Where is the nearest train station?",
    "I would like to book a table for two at eight.",
    "Could you send me the report by Friday?",
    "The meeting has been moved to Tuesday afternoon.",
    "Thank you for your help, it made a big difference.",
    "Please leave the package with my neighbour.",
    "We are running about fifteen minutes late.",
    "Is breakfast included in the price?",
    "I lost my luggage at the airport.",
    "Happy birthday! I hope you have a wonderful day.",
)
TRIVIA = (
    ("What is the capital of Australia?", "Canberra"),
    ("Who wrote Pride and Prejudice?", "Jane Austen"),
    ("What is the largest planet in the solar system?", "Jupiter"),
    ("How many bones are in the adult human body?", "206"),
    ("What is the chemical symbol for gold?", "Au"),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci"),
    ("What is the longest river in Africa?", "the Nile"),
    ("In which year did the Berlin Wall fall?", "1989"),
    ("What gas do plants absorb from the air?", "carbon dioxide"),
    ("What is the smallest prime number?", "2"),
    ("Which element has atomic number 1?", "hydrogen"),
    ("What is the capital of Canada?", "Ottawa"),
    ("Who developed the theory of general relativity?", "Albert Einstein"),
    ("What is the hardest natural substance?", "diamond"),
    ("How many continents are there?", "seven"),
    ("What is the boiling point of water at sea level in Celsius?", "100 degrees"),
    ("Which planet is known as the Red Planet?", "Mars"),
    ("Who composed the Four Seasons?", "Antonio Vivaldi"),
    ("What is the main language spoken in Brazil?", "Portuguese"),
    ("What is the speed of light in vacuum?", "about 299,792 km per second"),
    ("Which ocean is the largest?", "the Pacific Ocean"),
    ("Who was the first person to walk on the Moon?", "Neil Armstrong"),
    ("What is the square root of 144?", "12"),
    ("Which organ pumps blood through the body?", "the heart"),
    ("What currency is used in Japan?", "the yen"),
    ("Who wrote One Hundred Years of Solitude?", "Gabriel Garcia Marquez"),
    ("What is the tallest mountain on Earth?", "Mount Everest"),
    ("How many sides does a hexagon have?", "six"),
)
PRODUCTS = (
    "wireless earbuds",
    "coffee machine",
    "standing desk",
    "robot vacuum",
    "smart watch",
    "air fryer",
    "e-reader",
    "router",
    "office chair",
    "electric toothbrush",
)
APPS = ("banking", "fitness", "photo", "food delivery", "streaming", "travel")
PLANS = ("Premium", "Family", "Pro", "Basic", "Annual")
REVIEW_OPINIONS = (
    ("love", "positive"),
    ("really like", "positive"),
    ("am disappointed with", "negative"),
    ("regret buying", "negative"),
    ("have mixed feelings about", "neutral"),
    ("am fine with", "neutral"),
)
REVIEW_ASPECTS = (
    "battery life",
    "build quality",
    "price",
    "customer service",
    "delivery time",
    "setup",
    "noise",
    "design",
    "instructions",
)
TICKET_TOPICS = (
    ("I was charged twice this month", "billing"),
    ("my parcel is a week late", "shipping"),
    ("I can't log in after the update", "account"),
    ("the app crashes when I upload a photo", "technical"),
    ("I want to cancel my subscription", "billing"),
    ("the tracking number doesn't work", "shipping"),
    ("how do I change my email address", "account"),
    ("sync stopped working on my laptop", "technical"),
)
