package content

// Message ids of distribution lists and notices the engine uses by itself.
const (
	// MsgDistMore closes a page of the distributions list when more follow:
	// how many, and that 9 shows them. Plural by {{.Count}}.
	MsgDistMore = "dist_more"
	// MsgDistPlaceSubscribers is said, once a page, to a person who sees
	// only the area of a site whose exact places go to subscribers: how to
	// get them.
	MsgDistPlaceSubscribers = "dist_place_subscribers"
	// MsgNoticeSafety is in every distribution notice: aid is free, never
	// pay, never send papers, this is the only official channel.
	MsgNoticeSafety = "notice_safety"
	// MsgNoticeNoForward asks people not to forward a notice (crowding).
	// Cancellations leave it out: forwarding them helps.
	MsgNoticeNoForward = "notice_no_forward"
)

// distributionMessages are the messages above: validate checks every
// language has them.
var distributionMessages = []string{MsgDistMore, MsgDistPlaceSubscribers, MsgNoticeSafety, MsgNoticeNoForward}
