package content

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Node kinds.
const (
	KindMenu     = "menu"
	KindMessage  = "message"
	KindQuestion = "question"
	KindAction   = "action"
	KindSwitch   = "switch"
	KindList     = "list"
)

// What a question expects.
const (
	ExpectSite     = "site"
	ExpectLanguage = "language"
	ExpectText     = "text"
)

// Actions.
const (
	DoSetLanguage = "set_language"
	DoSubscribe   = "subscribe"
	DoUnsubscribe = "unsubscribe"
	DoHandover    = "handover"
	DoOptOut      = "opt_out"
	DoOptIn       = "opt_in"
	// DoErase deletes everything kept about the person, once the step's
	// replies are on their way.
	DoErase = "erase"
)

// SourceDistributions is the list source of upcoming distributions.
const SourceDistributions = "distributions"

// Flow is the conversation: its nodes, the keywords that work everywhere,
// and how the first message picks a language.
type Flow struct {
	Settings  Settings
	Keywords  []Keyword
	Greetings map[string][]string
	Nodes     map[string]*Node
	// Sites are the ids of the default sites (names are messages "site_<id>").
	Sites []string
	// SiteCoords are the default sites' centres, by id, where sites.yaml
	// gives them (see parseSites).
	SiteCoords map[string]Point
	// Urgent is how words of danger are heard at every step.
	Urgent Urgent

	settingsFile string
	sitesFile    string
	sitesLine    int
}

// Settings names the nodes and messages the engine needs beyond the flow itself.
type Settings struct {
	Main           string   `yaml:"main"`
	Welcome        string   `yaml:"welcome"`
	ChooseLanguage string   `yaml:"choose_language"`
	WelcomeBack    string   `yaml:"welcome_back"`
	Invalid        string   `yaml:"invalid"`
	FooterMain     string   `yaml:"footer_main"`
	FooterMenu     string   `yaml:"footer_menu"`
	BackLabel      string   `yaml:"back_label"`
	Languages      []string `yaml:"languages"`
	MaxTries       int      `yaml:"max_tries"`
	// SiteStart is where a person who came for a site goes, that site
	// chosen: a Telegram link t.me/<bot>?start=<site> (a poster's QR code),
	// or a first message that is only a site's name ("NADOR"). Empty: such a
	// link or message is read as any other.
	SiteStart string `yaml:"site_start"`
	// SMSBudget is the most SMS segments one message should cost; a message
	// over it is a warning. Zero: no budget.
	SMSBudget int `yaml:"sms_budget"`
}

// Keyword is a set of words that jump to a node from any step.
type Keyword struct {
	Goto string `yaml:"goto"`
	// Words holds the keyword's words per language.
	Words map[string][]string `yaml:"words"`
	File  string              `yaml:"-"`
	Line  int                 `yaml:"-"`
}

// Urgent is the danger section of the flow: words of danger, by category
// and language, heard in every message before anything but a keyword.
type Urgent struct {
	// Offer is the node run after a category's text when nothing was
	// recorded: it offers a person (a menu whose "yes" is a handover).
	Offer string `yaml:"offer"`
	// Recorded is the node run after a category's text when an urgent
	// request was recorded at once.
	Recorded string `yaml:"recorded"`
	// Categories are matched in order: the first that matches answers.
	Categories []UrgentCategory `yaml:"categories"`

	File string `yaml:"-"`
	Line int    `yaml:"-"`
}

// UrgentCategory is one kind of danger: its words, what it answers and
// whether it is passed to staff at once.
type UrgentCategory struct {
	// Name labels the category in metrics (never the text).
	Name string `yaml:"name"`
	// Text is the message id of the emergency numbers that fit.
	Text string `yaml:"text"`
	// Record passes the message to staff at once as an urgent request.
	Record bool `yaml:"record"`
	// Words per language. A word is matched whole; a word ending in "*" is a
	// stem that matches any word it starts ("saign*": "saigne",
	// "saignement"). A phrase matches consecutive words. Arabic words also
	// match after a clitic prefix (و، ف، ب، ل، ك، ال …).
	Words map[string][]string `yaml:"words"`

	Line int `yaml:"-"`
}

// Node is one step of the conversation. Which fields count depends on Kind;
// see flows/main.yaml for the partner-facing description.
type Node struct {
	ID      string            `yaml:"-"`
	Kind    string            `yaml:"type"`
	Text    string            `yaml:"text"`
	Options []Option          `yaml:"options"`
	Goto    string            `yaml:"goto"`
	Rest    string            `yaml:"rest"`
	Footer  *bool             `yaml:"footer"`
	Expect  string            `yaml:"expect"`
	Retry   string            `yaml:"retry"`
	Save    string            `yaml:"save"`
	Back    string            `yaml:"back"`
	Do      string            `yaml:"do"`
	Var     string            `yaml:"var"`
	Cases   map[string]string `yaml:"cases"`
	Default string            `yaml:"default"`
	Source  string            `yaml:"source"`
	Item    string            `yaml:"item"`
	Empty   string            `yaml:"empty"`
	Note    string            `yaml:"note"`
	// PerSite makes a message say what fits the person's site: it sends
	// "<text>_<site>" where that message exists, else "<text>" (the
	// generic text, which says how to reach a person).
	PerSite bool `yaml:"per_site"`
	// Ask is the question (expect: site) a per-site message asks first
	// when the person's site is not known; it comes back here.
	Ask string `yaml:"ask"`

	File string `yaml:"-"`
	Line int    `yaml:"-"`
}

// Option is one numbered choice of a menu.
type Option struct {
	Key   int    `yaml:"key"`
	Label string `yaml:"label"`
	Goto  string `yaml:"goto"`
	Line  int    `yaml:"-"`
}

// HasFooter reports whether a message that rests at a menu gets the footer.
func (n *Node) HasFooter() bool {
	return n.Footer == nil || *n.Footer
}

// Waits reports whether the node stops and waits for the person's answer.
func (n *Node) Waits() bool {
	return n.Kind == KindMenu || n.Kind == KindQuestion
}

// Option returns the option numbered key.
func (n *Node) Option(key int) (Option, bool) {
	for _, o := range n.Options {
		if o.Key == key {
			return o, true
		}
	}
	return Option{}, false
}

func newFlow() *Flow {
	return &Flow{Nodes: map[string]*Node{}, Greetings: map[string][]string{}}
}

// parse adds one flow file to f. A file may hold any of the top-level
// sections; node ids must be unique across files.
func (f *Flow) parse(file string, data []byte) Problems {
	doc, problems := parseYAML(file, data)
	if doc == nil {
		return problems
	}
	if len(doc.Content) == 0 {
		return problems
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		problems.add(Problem{File: file, Line: top.Line, Msg: "a flow file is a mapping of sections (settings, keywords, greetings, nodes, sites)"})
		return problems
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i], top.Content[i+1]
		bad := func(err error) {
			problems.add(Problem{File: file, Line: val.Line, Key: key.Value, Msg: err.Error()})
		}
		switch key.Value {
		case "settings":
			var s Settings
			problems = append(problems, unknownFields(file, "settings", val, Settings{})...)
			if err := val.Decode(&s); err != nil {
				bad(err)
				continue
			}
			f.Settings = s
			f.settingsFile = file
		case "keywords":
			var kws []Keyword
			if err := val.Decode(&kws); err != nil {
				bad(err)
				continue
			}
			for j := range kws {
				kws[j].File, kws[j].Line = file, val.Content[j].Line
			}
			f.Keywords = append(f.Keywords, kws...)
		case "greetings":
			var g map[string][]string
			if err := val.Decode(&g); err != nil {
				bad(err)
				continue
			}
			for lang, words := range g {
				f.Greetings[lang] = append(f.Greetings[lang], words...)
			}
		case "urgent":
			var u Urgent
			problems = append(problems, unknownFields(file, "urgent", val, Urgent{})...)
			if err := val.Decode(&u); err != nil {
				bad(err)
				continue
			}
			if cats := mappingValue(val, "categories"); cats != nil && cats.Kind == yaml.SequenceNode {
				for j, cv := range cats.Content {
					problems = append(problems, unknownFields(file, "urgent.categories", cv, UrgentCategory{})...)
					if j < len(u.Categories) {
						u.Categories[j].Line = cv.Line
					}
				}
			}
			u.File, u.Line = file, key.Line
			if f.Urgent.File != "" {
				problems.add(Problem{File: file, Line: key.Line, Key: "urgent", Msg: fmt.Sprintf("urgent defined twice (also %s:%d)", f.Urgent.File, f.Urgent.Line)})
				continue
			}
			f.Urgent = u
		case "sites":
			problems = append(problems, f.parseSites(file, val)...)
		case "nodes":
			problems = append(problems, f.parseNodes(file, val)...)
		default:
			problems.add(Problem{File: file, Line: key.Line, Key: key.Value, Msg: "unknown section (want settings, keywords, greetings, urgent, nodes or sites)"})
		}
	}
	return problems
}

func (f *Flow) parseNodes(file string, val *yaml.Node) Problems {
	var problems Problems
	if val.Kind != yaml.MappingNode {
		problems.add(Problem{File: file, Line: val.Line, Key: "nodes", Msg: "nodes is a mapping of node id to node"})
		return problems
	}
	for j := 0; j+1 < len(val.Content); j += 2 {
		id, body := val.Content[j], val.Content[j+1]
		if prev, dup := f.Nodes[id.Value]; dup {
			problems.add(Problem{File: file, Line: id.Line, Key: id.Value, Msg: fmt.Sprintf("node defined twice (also %s:%d)", prev.File, prev.Line)})
			continue
		}
		var n Node
		problems = append(problems, unknownFields(file, id.Value, body, Node{})...)
		if opts := mappingValue(body, "options"); opts != nil && opts.Kind == yaml.SequenceNode {
			for _, o := range opts.Content {
				problems = append(problems, unknownFields(file, id.Value, o, Option{})...)
			}
		}
		if err := body.Decode(&n); err != nil {
			problems.add(Problem{File: file, Line: body.Line, Key: id.Value, Msg: err.Error()})
			continue
		}
		n.ID, n.File, n.Line = id.Value, file, id.Line
		if opts := mappingValue(body, "options"); opts != nil {
			for k := range n.Options {
				if k < len(opts.Content) {
					n.Options[k].Line = opts.Content[k].Line
				}
			}
		}
		f.Nodes[n.ID] = &n
	}
	return problems
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// yamlProblem turns a YAML error into a problem, keeping the line it names.
func yamlProblem(file string, err error) Problem {
	p := Problem{File: file, Msg: "invalid YAML: " + err.Error()}
	var line int
	if _, scanErr := fmt.Sscanf(err.Error(), "yaml: line %d:", &line); scanErr == nil {
		p.Line = line
	} else if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
		if _, scanErr := fmt.Sscanf(te.Errors[0], "line %d:", &line); scanErr == nil {
			p.Line = line
		}
	}
	return p
}

// unknownFields reports the keys of mapping m that the struct of like does not
// have, so that a misspelt field ("retyr:") is an error rather than a
// silently missing feature.
func unknownFields(file, key string, m *yaml.Node, like any) Problems {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	known := map[string]bool{}
	t := reflect.TypeOf(like)
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			known[name] = true
		}
	}
	var ps Problems
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if !known[k.Value] {
			names := slices.Sorted(maps.Keys(known))
			ps.add(Problem{File: file, Line: k.Line, Key: key, Msg: fmt.Sprintf("unknown field %q (known: %s)", k.Value, strings.Join(names, ", "))})
		}
	}
	return ps
}
