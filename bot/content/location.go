package content

// Message ids the conversation uses to answer a shared location (a
// WhatsApp or Telegram place). None of them shows the coordinates.
const (
	// MsgLocationNear says which site is nearest, and about how far
	// ({{.Site}}, {{.Count}} km); the site's menu 1 follows.
	MsgLocationNear = "location_near"
	// MsgLocationFar says no site is within {{.Count}} km; the list of
	// sites follows.
	MsgLocationFar = "location_far"
	// MsgLocationNotPassed answers a location sent while a request to a
	// person is open (or asked for): it is neither kept nor passed to
	// staff; to say where one is, write it.
	MsgLocationNotPassed = "location_not_passed"
)

// locationMessages are the ids above, which every language must have.
var locationMessages = []string{MsgLocationNear, MsgLocationFar, MsgLocationNotPassed}
