package content

// MsgOrgDefault names who runs the service in a language when the deployment
// does not name its organisation (OUTREACH_ORG_NAME): it fills {{.Org}}, the
// field the welcome and the privacy notice use.
const MsgOrgDefault = "org_default"

// MsgStaffHours says when staff answer, in the words of a sentence: "Monday
// to Friday, 9:00 to 17:00". It fills {{.Hours}}, which the replies to a
// request to talk to a person use. Partners keep it true for their team;
// the shipped text promises no time.
const MsgStaffHours = "staff_hours"
