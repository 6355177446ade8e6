package dsn

import (
	"cmp"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Hidden replaces what redaction hides.
const Hidden = "xxxxx"

// Redact returns dsn fit to print: its user info hidden, and the values of
// parameters whose name holds "pass" (password=, sslpassword=). It fails
// closed: everything between the scheme and the last @ of the dsn is hidden
// unless the dsn is a valid URL whose user info is unambiguous, in which
// case the user name is kept and only the password hidden; a URL that does
// not parse and has no @ loses its whole authority (host part); a dsn that
// is not a URL loses everything before its last @.
func Redact(dsn string) string {
	// Parameters first: an @ in a password parameter is not the end of
	// user info.
	dsn = redactParams(dsn)
	_, rest, ok := cutScheme(dsn)
	if !ok {
		// A driver's own format: user:pass@tcp(host)/db, host=h password=p.
		if at := strings.LastIndexByte(dsn, '@'); at >= 0 {
			return Hidden + redactParams(dsn[at:])
		}
		return redactParams(dsn)
	}
	prefix, body := dsn[:len(dsn)-len(rest)], rest
	hier := strings.HasPrefix(rest, "//")
	if hier {
		prefix, body = prefix+"//", rest[2:]
	}
	at := strings.LastIndexByte(body, '@')
	if at < 0 {
		if _, err := url.Parse(dsn); err != nil && hier {
			// Unsure where the user info would end: drop the authority.
			if end := strings.IndexAny(body, "/?#"); end != 0 {
				if end < 0 {
					end = len(body)
				}
				return prefix + Hidden + redactParams(body[end:])
			}
		}
		return prefix + redactParams(body)
	}
	userinfo := Hidden
	if region := body[:at]; hier && cleanUserinfo(region) {
		if _, err := url.Parse(dsn); err == nil {
			if name, _, hasPassword := strings.Cut(region, ":"); hasPassword {
				userinfo = name + ":" + Hidden
			} else {
				userinfo = region // a user name alone
			}
		}
	}
	return prefix + userinfo + redactParams(body[at:])
}

// cleanUserinfo reports whether s is user info as RFC 3986 writes it, with
// no @: only unreserved characters, sub-delimiters, colons and valid %XX
// escapes.
func cleanUserinfo(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:", c) >= 0:
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// passKey matches the name of a parameter that holds "pass", in a URL query
// (password=p&...) or a keyword/value DSN (password='p q' ...), with its =.
var passKey = regexp.MustCompile(`(?i)[a-z0-9_.-]*pass[a-z0-9_.-]*\s*=\s*`)

// passValues returns the start and end offsets in s of the values of its
// password parameters. A value starts with a single-quoted part, with
// backslash escapes, or runs to the next & or whitespace; and, erring on the side of hiding, it
// goes on over what follows while that holds no =, as an unescaped & or
// space in a password would make it.
func passValues(s string) [][2]int {
	var spans [][2]int
	for _, m := range passKey.FindAllStringIndex(s, -1) {
		if len(spans) > 0 && m[0] < spans[len(spans)-1][1] {
			continue // inside the previous value
		}
		i := m[1]
		for i < len(s) {
			if s[i] == '\'' && i == m[1] {
				i++
				for i < len(s) && s[i] != '\'' {
					if s[i] == '\\' {
						i++
					}
					i++
				}
				i = min(i+1, len(s))
				continue
			}
			if !isSep(s[i]) {
				i++
				continue
			}
			// A separator: go on if the next word holds no =.
			j := i
			for j < len(s) && isSep(s[j]) {
				j++
			}
			k := j
			for k < len(s) && !isSep(s[k]) && s[k] != '=' {
				k++
			}
			if j == len(s) || k < len(s) && s[k] == '=' {
				break
			}
			i = k
		}
		spans = append(spans, [2]int{m[1], i})
	}
	return spans
}

func isSep(c byte) bool { return c == '&' || c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// redactParams hides the values of the password parameters of s.
func redactParams(s string) string {
	spans := passValues(s)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp[0]])
		b.WriteString(Hidden)
		last = sp[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// Secrets returns the strings of dsn that must never be printed, longest
// first: its user info, its password, the pieces of the password between
// /, ?, #, @ and : (where a driver could end it; pieces of 4 bytes or more),
// and the values of its password parameters, each as written,
// percent-decoded, percent-encoded and as Go would quote it.
func Secrets(dsn string) []string {
	var raw, passwords []string
	scheme, rest, ok := cutScheme(dsn)
	body := dsn
	if ok {
		body = strings.TrimPrefix(rest, "//")
	}
	if at := strings.LastIndexByte(body, '@'); at >= 0 {
		region := body[:at]
		if strings.Contains(region, ":") || !cleanUserinfo(region) {
			raw = append(raw, region) // not a user name alone
		}
		if !ok || !cleanUserinfo(region) || !strings.HasPrefix(rest, "//") {
			// Unsure where the user info starts and where the password
			// is: all of it may be, and whatever follows a colon.
			passwords = append(passwords, region)
			if ok && !strings.HasPrefix(rest, "//") {
				// user:pass@tcp(h)/db: the "scheme" is a user name.
				raw = append(raw, scheme+":"+region)
			}
			for i, c := range region {
				if c == ':' {
					passwords = append(passwords, region[i+1:])
				}
			}
		} else if _, pw, hasPassword := strings.Cut(region, ":"); hasPassword {
			passwords = append(passwords, pw)
		}
	}
	for _, sp := range passValues(dsn) {
		v := dsn[sp[0]:sp[1]]
		passwords = append(passwords, v, strings.Trim(v, "'"))
	}
	for _, pw := range passwords {
		forms := []string{pw}
		if d, err := url.PathUnescape(pw); err == nil {
			forms = append(forms, d)
		}
		for _, f := range forms {
			raw = append(raw, f)
			// The pieces a driver could take for a password, host or
			// database name if it ended the user info elsewhere; only
			// pieces long enough not to blot out common words.
			for _, piece := range strings.FieldsFunc(f, func(r rune) bool { return strings.ContainsRune("/?#@:", r) }) {
				if len(piece) >= 4 {
					raw = append(raw, piece)
				}
			}
		}
	}
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, r := range raw {
		decoded := []string{r}
		if d, err := url.PathUnescape(r); err == nil {
			decoded = append(decoded, d)
		}
		if d, err := url.QueryUnescape(r); err == nil {
			decoded = append(decoded, d)
		}
		for _, d := range decoded {
			for _, f := range []string{d, url.PathEscape(d), url.QueryEscape(d)} {
				add(f)
				add(strings.Trim(strconv.Quote(f), `"`))
				add(strings.Trim(strconv.QuoteToASCII(f), `"`))
			}
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return out
}

// ScrubText returns text with every dsn of dsns replaced by its Redact form
// and every one of their Secrets by Hidden; then, whatever the dsns, any URL
// user info in text hidden as Redact hides it, and the values of password
// parameters.
func ScrubText(text string, dsns ...string) string {
	for _, d := range dsns {
		if r := Redact(d); d != "" && r != d {
			text = strings.ReplaceAll(text, d, r)
		}
	}
	for _, d := range dsns {
		for _, s := range Secrets(d) {
			text = strings.ReplaceAll(text, s, Hidden)
		}
	}
	return redactParams(redactUserinfo(text))
}

// redactUserinfo hides the user info of the URLs in free text: in each
// word that holds "://" and an @ after it, what lies between them (all but
// a user name when it is clean user info). A word ends at whitespace, a
// quote or a backquote. It is the net under ScrubText's exact replacement of
// the dsns it knows.
func redactUserinfo(text string) string {
	var b strings.Builder
	for {
		i := strings.Index(text, "://")
		if i < 0 {
			break
		}
		start := i + 3
		end := strings.IndexAny(text[start:], " \t\r\n\"'`")
		if end < 0 {
			end = len(text) - start
		}
		word := text[start : start+end]
		b.WriteString(text[:start])
		if at := strings.LastIndexByte(word, '@'); at >= 0 {
			region, replacement := word[:at], Hidden
			if cleanUserinfo(region) {
				if name, pw, hasPassword := strings.Cut(region, ":"); !hasPassword || pw == Hidden {
					replacement = region
				} else {
					replacement = name + ":" + Hidden
				}
			}
			word = replacement + word[at:]
		}
		b.WriteString(word)
		text = text[start+end:]
	}
	b.WriteString(text)
	return b.String()
}

// Scrub returns err with its message scrubbed by ScrubText for dsns: err
// itself when there was nothing to hide, else an error with the scrubbed
// message that errors.Is and errors.As see through but errors.Unwrap does
// not, so that the message with the secret is not one call away.
func Scrub(err error, dsns ...string) error {
	if err == nil {
		return nil
	}
	msg := ScrubText(err.Error(), dsns...)
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string        { return e.msg }
func (e *scrubbed) Is(target error) bool { return errors.Is(e.err, target) }
func (e *scrubbed) As(target any) bool   { return errors.As(e.err, target) }
