package content

// MsgOrgDefault names who runs the service in a language when the deployment
// does not name its organisation (OUTREACH_ORG_NAME): it fills {{.Org}}, the
// field the welcome and the privacy notice use.
const MsgOrgDefault = "org_default"
