"""Word lists the prompt builders draw from: subjects and their concepts, everyday topics, code tasks,
products, people and places. Written for this generator; nothing here is read from distillab."""

from __future__ import annotations


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split("|") if item.strip()]


# Academic and professional subjects, each with concepts a question can be about.
SUBJECTS: dict[str, list[str]] = {
    name: _split(items)
    for name, items in {
        "physics": "conservation of momentum|Ohm's law|the photoelectric effect|entropy|wave interference|"
        "special relativity|buoyancy|angular momentum|electromagnetic induction|quantum tunnelling|"
        "terminal velocity|the Doppler effect",
        "chemistry": "covalent bonding|Le Chatelier's principle|oxidation states|pH buffers|"
        "reaction kinetics|electronegativity|the ideal gas law|chirality|titration|catalysis|"
        "hydrogen bonding|electrochemical cells",
        "biology": "mitosis|photosynthesis|natural selection|the Krebs cycle|gene expression|"
        "CRISPR gene editing|the immune response|enzyme inhibition|osmosis|symbiosis|"
        "protein folding|the nitrogen cycle",
        "medicine": "hypertension|insulin resistance|antibiotic resistance|the blood-brain barrier|"
        "vaccine efficacy|anaemia|sepsis|statins|migraine|asthma inhalers|kidney function tests|"
        "clinical trial phases",
        "mathematics": "eigenvalues|the fundamental theorem of calculus|prime factorisation|"
        "group theory|Taylor series|proof by induction|the pigeonhole principle|complex numbers|"
        "graph colouring|modular arithmetic|convex functions|the Cauchy-Schwarz inequality",
        "statistics": "p-values|Bayesian updating|the central limit theorem|confidence intervals|"
        "linear regression|overfitting|survivorship bias|bootstrap resampling|Simpson's paradox|"
        "A/B testing|maximum likelihood estimation|multiple comparisons",
        "computer science": "hash tables|dynamic programming|garbage collection|TCP congestion control|"
        "B-trees|public-key cryptography|consensus algorithms|cache invalidation|virtual memory|"
        "regular expressions|big-O notation|database indexing",
        "machine learning": "gradient descent|attention mechanisms|dropout|batch normalisation|"
        "reinforcement learning|word embeddings|decision trees|cross-validation|"
        "the bias-variance trade-off|transfer learning|beam search|contrastive learning",
        "economics": "inflation|comparative advantage|price elasticity|opportunity cost|monetary policy|"
        "the tragedy of the commons|game theory|minimum wage effects|externalities|"
        "supply chain shocks|moral hazard|purchasing power parity",
        "finance": "compound interest|index funds|bond yields|diversification|options pricing|"
        "the efficient market hypothesis|leverage|dollar-cost averaging|credit scores|"
        "discounted cash flow|short selling|venture capital dilution",
        "history": "the fall of the Roman Republic|the printing press|the Meiji Restoration|"
        "the French Revolution|the Silk Road|the Industrial Revolution|the Cold War|"
        "the Treaty of Westphalia|the Black Death|decolonisation in Africa|the Ottoman Empire|"
        "the Marshall Plan",
        "geography": "plate tectonics|monsoons|river deltas|urbanisation|the Gulf Stream|desertification|"
        "fjords|population pyramids|coral atolls|watersheds|permafrost|megacities",
        "law": "contract consideration|habeas corpus|fair use|tort negligence|the presumption of innocence|"
        "intellectual property licensing|data protection rules|judicial review|"
        "employment contracts|antitrust law|the statute of limitations|arbitration clauses",
        "philosophy": "utilitarianism|the trolley problem|Kant's categorical imperative|free will|"
        "the ship of Theseus|epistemic justification|existentialism|the social contract|"
        "Stoicism|the mind-body problem|moral relativism|Occam's razor",
        "psychology": "cognitive dissonance|confirmation bias|classical conditioning|working memory|"
        "the placebo effect|attachment theory|growth mindset|the bystander effect|"
        "impostor syndrome|sleep and memory consolidation|habit formation|anchoring",
        "literature": "unreliable narrators|the hero's journey|magical realism|iambic pentameter|"
        "stream of consciousness|Greek tragedy|dramatic irony|the Gothic novel|allegory|"
        "free verse|satire|the bildungsroman",
        "music": "the circle of fifths|syncopation|sonata form|equal temperament|blues scales|"
        "counterpoint|polyrhythms|chord inversions|modal interchange|the overtone series|"
        "dynamics markings|call and response",
        "astronomy": "black holes|exoplanet transits|the cosmic microwave background|neutron stars|"
        "dark matter|stellar nucleosynthesis|redshift|tidal locking|the Oort cloud|"
        "gravitational waves|supernovae|the Hubble constant",
        "earth science": "the water cycle|volcanic eruptions|earthquake magnitude scales|soil erosion|"
        "ocean acidification|glaciers|the carbon cycle|hurricanes|groundwater aquifers|"
        "sedimentary rock|El Nino|the ozone layer",
        "engineering": "load-bearing beams|PID controllers|heat exchangers|fatigue failure|"
        "signal-to-noise ratio|gear ratios|reinforced concrete|fluid pressure drop|"
        "finite element analysis|feedback loops|tolerance stacking|thermal expansion",
        "linguistics": "phonemes|code-switching|the Sapir-Whorf hypothesis|morphology|tonal languages|"
        "language acquisition|pidgins and creoles|syntax trees|loanwords|pragmatics|"
        "vowel harmony|grammatical gender",
        "political science": "federalism|proportional representation|separation of powers|populism|"
        "soft power|lobbying|referendums|coalition governments|gerrymandering|"
        "the veto power|civil service neutrality|sanctions",
        "sociology": "social mobility|gentrification|the division of labour|urban loneliness|"
        "remote work culture|generational differences|social capital|rituals|"
        "migration networks|the gig economy|digital divides|status signalling",
        "nutrition": "protein requirements|glycaemic index|intermittent fasting|dietary fibre|"
        "vitamin D|electrolytes|ultra-processed foods|the Mediterranean diet|caffeine|"
        "gut microbiota|hydration|iron absorption",
        "business": "product-market fit|unit economics|OKRs|customer churn|pricing strategy|"
        "supply contracts|brand positioning|cash flow forecasting|hiring plans|"
        "go-to-market strategy|vendor negotiation|quarterly planning",
        "art": "chiaroscuro|linear perspective|impressionism|the golden ratio in design|colour theory|"
        "Bauhaus|printmaking|abstract expressionism|composition rules|ceramic glazes|"
        "fresco painting|typography",
    }.items()
}

# What honest people ask about day to day: topic -> things within it.
EVERYDAY: dict[str, list[str]] = {
    name: _split(items)
    for name, items in {
        "cooking": "banana bread|chicken curry|sourdough starter|risotto|vegan lasagne|pancakes|"
        "a weeknight stir-fry|homemade pizza dough|lentil soup|overnight oats|roast vegetables|tacos",
        "travel": "Lisbon|Kyoto|a weekend in Rome|the Scottish Highlands|Mexico City|Vancouver|"
        "a road trip through Utah|Seoul|Cape Town|Istanbul|Prague|Buenos Aires",
        "fitness": "a beginner running plan|knee pain after squats|a 20-minute home workout|"
        "stretching before bed|a first half marathon|building upper body strength|"
        "cycling to work|yoga for back pain|swimming technique|rest days",
        "money": "a monthly budget|paying off a credit card|saving for a house deposit|"
        "an emergency fund|splitting rent with roommates|a pension contribution|"
        "a car loan|tax deductions for freelancers|a student loan",
        "home": "a leaking tap|mould in the bathroom|painting a small bedroom|"
        "a squeaky door|choosing a vacuum cleaner|decluttering a garage|"
        "insulating a loft|hanging shelves|unblocking a drain",
        "garden": "tomato plants with yellow leaves|a balcony herb garden|composting|"
        "pruning roses|a lawn full of moss|growing chillies indoors|raised beds|repotting a monstera",
        "pets": "a puppy that bites|a cat that stopped eating|adopting a rescue dog|"
        "a hamster cage setup|walking two dogs at once|an aquarium for beginners|a parrot that screams",
        "tech help": "a slow laptop|a phone that will not charge|setting up a home printer|"
        "weak wifi upstairs|backing up photos|a forgotten router password|moving to a new phone",
        "work": "asking for a raise|a difficult coworker|preparing for an interview|"
        "writing a cover letter|giving feedback to my team|changing careers at 35|"
        "a performance review|negotiating a job offer",
        "family": "a toddler who will not sleep|planning a birthday party|helping my kid with reading|"
        "visiting grandparents|screen time rules|a family holiday on a budget",
        "entertainment": "a sci-fi novel like Dune|a board game for six people|a podcast about history|"
        "a documentary about the ocean|a cozy mystery series|films for a rainy weekend",
        "shopping": "a gift for my dad|running shoes for flat feet|a first espresso machine|"
        "a budget laptop for school|a winter coat|noise-cancelling headphones",
    }.items()
}

LANGUAGES = _split(
    "English|Spanish|French|German|Portuguese|Italian|Dutch|Polish|Turkish|Japanese|Korean|"
    "Chinese|Hindi|Arabic|Indonesian|Vietnamese|Swedish|Ukrainian"
)

PROGRAMMING = _split("Python|JavaScript|TypeScript|Go|Rust|Java|C#|C++|SQL|Bash|Kotlin|Ruby")

CODE_TASKS = _split(
    "parse a CSV file and sum one column|debounce a function|retry an HTTP request with backoff|"
    "merge two sorted lists|validate an email address|read a large file line by line|"
    "paginate results from a REST API|compute a moving average|deduplicate records by key|"
    "flatten a nested dictionary|convert timestamps between time zones|rate limit calls to a function|"
    "parse command-line arguments|cache expensive function calls|walk a directory tree|"
    "serialise an object to JSON|stream rows from a database cursor|find the shortest path in a grid|"
    "implement a least-recently-used cache|tokenise a sentence into words|schedule a job every hour|"
    "compress a string with run-length encoding|check whether a string is a palindrome|"
    "group log lines by request id|upload a file to object storage|hash a password safely|"
    "diff two JSON documents|render a Markdown table|batch database inserts|detect cycles in a graph"
)

ERRORS = _split(
    "TypeError: 'NoneType' object is not subscriptable|KeyError: 'id'|"
    "IndexError: list index out of range|TypeError: undefined is not a function|"
    "error[E0382]: borrow of moved value|NullPointerException|panic: runtime error: invalid memory address|"
    "ModuleNotFoundError: No module named 'yaml'|SyntaxError: unexpected EOF while parsing|"
    "ECONNREFUSED 127.0.0.1:5432|Segmentation fault (core dumped)|"
    "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff|deadlock detected|"
    "CORS policy: No 'Access-Control-Allow-Origin' header|OOMKilled"
)

FIRST_NAMES = _split(
    "Ana|Ben|Chen|Dara|Elif|Farid|Grace|Hugo|Ines|Jamal|Kaito|Lena|Mateo|Nia|Omar|Priya|Quinn|"
    "Rosa|Sven|Tariq|Uma|Viktor|Wen|Yusuf|Zoe|Maya|Leo|Sofia|Arjun|Hana"
)

ITEMS = _split(
    "apples|notebooks|bus tickets|marbles|cupcakes|stamps|pencils|oranges|books|stickers|"
    "boxes of tea|bags of rice|seedlings|bottles of juice|tiles|chairs"
)

PRODUCTS = _split(
    "wireless earbuds|blender|yoga mat|phone case|desk lamp|air fryer|backpack|smart watch|"
    "coffee grinder|electric toothbrush|office chair|hiking boots|kettle|webcam|bike lock|"
    "robot vacuum|water bottle|mechanical keyboard|face cream|board game"
)

# Company and app names are made of a head, a tail and sometimes a sector: thousands of distinct names.
NAME_HEADS = _split(
    "North|Bright|Quill|Tandem|Orbit|Cedar|Fern|Pixel|Harbor|Lumen|Kestrel|Mosaic|Blue|Vireo|Copper|"
    "Silver|Maple|River|Stone|Sun|Aster|Birch|Coral|Delta|Ember"
)
NAME_TAILS = _split("wind|lane|box|ly|way|forge|peak|field|stack|works|hub|bridge|nest|loop|point|gate")
SECTORS = _split("Health|Bank|Logistics|HR|CRM|Travel|Energy|Retail|Labs|Insurance|Telecom|Learning")

FEATURES = _split(
    "two-factor login|invoice export|team workspaces|the mobile app|single sign-on|webhooks|"
    "scheduled reports|the billing portal|data import|user roles|audit logs|offline mode|"
    "the API key page|notification settings|the dashboard widgets|password reset"
)

ROLES = _split(
    "data analyst|software architect|physician|mathematician|financial analyst|historian|"
    "legal scholar|research chemist|product strategist|statistician|security engineer|economist|"
    "philosophy professor|science teacher|mechanical engineer|linguist"
)

QUALITIES = _split(
    "statistical rigor|clinical precision|first-principles thinking|careful sourcing|"
    "practical intuition|formal correctness|clear pedagogy|domain expertise|systematic analysis"
)
