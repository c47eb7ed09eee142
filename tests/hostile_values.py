"""Hostile strings for front matter, file names and URLs.

``HOSTILE`` is a plain list; each entry carries a comment saying what it
attacks.  Used by tests/publish/test_frontmatter.py and test_paths.py (and
free for any other test that writes titles, authors, categories...).
"""

HOSTILE = [
    # --- quotes --------------------------------------------------------------
    "it's",  # single quote inside
    "'quoted'",  # starts and ends with a single quote
    '"double"',  # starts with a double quote
    'say "hi"',  # double quote inside
    "''",  # two single quotes only
    "a'b\"c",  # both quote kinds
    # --- colons, comments ----------------------------------------------------
    "a: b",  # mapping indicator inside
    "a:b",  # colon without space (plain is fine, but Windows paths are not)
    "trailing:",  # ends with a colon
    ":leading",  # starts with a colon
    "C:\\Windows\\System32",  # drive letter and backslashes
    "a #comment",  # space-hash starts a comment
    "#hashtag",  # leading hash
    "a#b",  # hash without space (URL fragment)
    # --- every leading indicator ---------------------------------------------
    "- dash item",  # block sequence indicator
    "-dash",  # dash without space
    "* star",  # alias indicator
    "&anchor",  # anchor indicator
    "!tag",  # tag indicator
    "!!python/object:os.system",  # PyYAML tag attack
    "%YAML 1.2",  # directive indicator
    "@at",  # reserved indicator
    "`backtick`",  # reserved indicator
    "| literal",  # literal block indicator
    "> folded",  # folded block indicator
    "[flow, seq]",  # flow sequence
    "{flow: map}",  # flow mapping
    "? key",  # complex key indicator
    ", comma",  # flow entry indicator
    "] closing",  # flow sequence end
    "} closing",  # flow mapping end
    # --- template engines ----------------------------------------------------
    "{{ x }}",  # Nunjucks / Jinja variable
    "{% raw %}{% endraw %}",  # Nunjucks tag
    # --- line breaks and whitespace ------------------------------------------
    "line1\nline2",  # newline
    "line1\r\nline2",  # CRLF
    "cr\ronly",  # lone CR
    "tab\there",  # tab
    "\tleading tab",  # leading tab (Hexo rewrites \n\t+)
    "a\n\tb",  # newline + tab: exactly what hexo-front-matter rewrites
    " leading space",  # leading space
    "trailing space ",  # trailing space
    "   ",  # only spaces
    "",  # empty string
    "\u3000全角空格\u3000",  # ideographic spaces around Chinese
    "\xa0nbsp\xa0",  # no-break spaces around
    # --- document markers ----------------------------------------------------
    "---",  # document start marker
    "...",  # document end marker
    "intro\n---\noutro",  # a line of --- inside a multi-line value
    "--- not a marker",  # starts like a marker
    "----",  # longer dash run (hexo-front-matter splits on -{3,})
    ";;;",  # hexo-front-matter JSON separator
    # --- YAML 1.1 / 1.2 implicit types ---------------------------------------
    "yes",  # bool in YAML 1.1
    "no",  # bool in YAML 1.1
    "on",  # bool in YAML 1.1
    "off",  # bool in YAML 1.1
    "Y",  # bool in the YAML 1.1 spec
    "n",  # bool in the YAML 1.1 spec
    "NO",  # bool, upper case
    "true",  # bool everywhere
    "False",  # bool, capitalised
    "null",  # null
    "Null",  # null, capitalised
    "~",  # null
    "1.5",  # float
    "1e5",  # float in YAML 1.2, string in PyYAML
    "-1",  # negative int
    "+12",  # signed int
    "1_000",  # underscore int
    "0o17",  # octal in YAML 1.2
    "012",  # octal in YAML 1.1
    "0x1F",  # hex
    "0b101",  # binary
    "1:20",  # sexagesimal in YAML 1.1 (= 80)
    "190:20:30.15",  # sexagesimal float in YAML 1.1
    "2022-03-14",  # date
    "2022-03-14 06:22:47",  # timestamp
    "2022-3-4T1:02:03Z",  # loose timestamp
    ".inf",  # infinity
    "-.Inf",  # negative infinity
    ".NaN",  # not a number
    "<<",  # merge key
    "=",  # YAML 1.1 value key
    "007",  # leading zeros
    # --- file-system hazards -------------------------------------------------
    "../../etc/passwd",  # path traversal
    "..",  # parent directory
    ".",  # current directory
    ".hidden",  # dot file (Hexo skips it)
    "_draft",  # underscore file (Hexo skips it)
    "_.._",  # mixes of leading skip characters
    "CON",  # Windows reserved
    "nul",  # Windows reserved, lower case
    "COM1.txt",  # Windows reserved with extension
    "lpt9",  # Windows reserved
    "name. . .",  # trailing dots and spaces (Windows strips them)
    "a/b\\c:d*e?f\"g<h>i|j",  # every Windows-forbidden character
    "100% sure",  # percent (URL escape)
    "%20",  # percent-encoded space
    "what?",  # URL query
    "a\x00b",  # NUL
    "bell\x07esc\x1b",  # C0 controls
    "del\x7f",  # DEL
    "c1\x85\x9f",  # C1 controls incl. NEL
    "zero\u200bwidth\u200d",  # zero-width space and joiner
    "\u202eexe.txt",  # RTL override (spoofs file extensions)
    "iso\u2066late\u2069",  # bidi isolates
    "\ufeffbom",  # BOM / zero-width no-break space
    "non\ufffechar\uffff",  # noncharacters
    "lone\ud800surrogate",  # lone high surrogate (dropped)
    "\udc00",  # lone low surrogate only (dropped)
    "line\u2028sep\u2029para",  # Unicode line/paragraph separators
    # --- markup ---------------------------------------------------------------
    "<script>alert(1)</script>",  # HTML
    "*bold* _em_",  # Markdown
    "&amp; &#123;",  # HTML entities
    "back\\slash\\",  # backslashes (escapes in double quotes)
    "\\n not a newline",  # escape-looking text
    # --- real-world text ------------------------------------------------------
    "吉林省委书记提出7个绝对到位后，长春市委书记凌晨2点开会",  # the seed title
    "新浪财经－国內",  # the seed channel (full-width hyphen)
    "Emoji 😀👨\u200d👩\u200d👧 🇨🇳",  # emoji, ZWJ sequence, flag
    "长" * 300,  # a 300-character Chinese title (900 bytes)
    "x" * 260,  # over the 255-byte file-name limit
    "https://example.com/a?b=c#d",  # URL
    "Mon, 14 Mar 2022 06:22:47 GMT",  # the seed's date form
]
