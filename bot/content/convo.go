package content

// Message ids the conversation uses by itself (beyond those a flow names)
// for the request flow and for people who are not understood.
const (
	// MsgWelcomeBackShort greets a person back after a silence when their
	// message is answered at once (a main-menu number): the branch follows.
	MsgWelcomeBackShort = "welcome_back_short"
	// MsgOfferPerson is said, before the main menu, to a person the bot
	// has not understood several times in a row: it offers a person (0).
	MsgOfferPerson = "offer_person"
	// MsgRequestClosed tells a person that staff closed their request and
	// that the bot answers them again.
	MsgRequestClosed = "request_closed"
	// MsgMediaOnly answers a message with no text but a photo, a voice
	// note, a sticker, a file or a place: the bot reads text only.
	MsgMediaOnly = "media_only"
	// MsgMediaOnlyCall is MsgMediaOnly where calls are answered: it also
	// gives the number to call to hear the menus, {{.Phone}}. Optional.
	MsgMediaOnlyCall = "media_only_call"
)

// conversationMessages are the ids above, which every language must have.
var conversationMessages = []string{MsgWelcomeBackShort, MsgOfferPerson, MsgRequestClosed, MsgMediaOnly}
