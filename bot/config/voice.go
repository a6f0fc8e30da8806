package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Voice modes (OUTREACH_VOICE): what a call to the Twilio number does.
const (
	// VoiceIVR answers the call with the menus, spoken; keys choose.
	VoiceIVR = "ivr"
	// VoiceSMSBack rejects the call unanswered, so that it costs the
	// caller nothing, and sends the menu by SMS: the missed call.
	VoiceSMSBack = "sms-back"
	// VoiceOff rejects calls, and sends nothing.
	VoiceOff = "off"
)

// Voice is how calls are answered.
type Voice struct {
	// Mode is VoiceIVR (the default with Twilio on), VoiceSMSBack or
	// VoiceOff (the only one with Twilio off).
	Mode string
	// Voices are the Twilio <Say> voice of each language, as
	// OUTREACH_VOICE_<LANG> gives it: "Polly.Lea", or with the language
	// tag Twilio speaks it in, "fr-CA:Polly.Chantal".
	Voices map[string]SayVoice
}

// SayVoice is a voice of Twilio's <Say>: its language tag and name.
type SayVoice struct {
	Language, Voice string
}

// DefaultVoices are the voices of a call in each language: Amazon Polly's,
// which Twilio offers for fr-FR, en-GB and Modern Standard Arabic (arb).
var DefaultVoices = map[string]SayVoice{
	"fr": {Language: "fr-FR", Voice: "Polly.Lea"},
	"en": {Language: "en-GB", Voice: "Polly.Amy"},
	"ar": {Language: "arb", Voice: "Polly.Zeina"},
}

var (
	languageTag = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	voiceName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// CallNumber is the number people call to hear the menus (the Twilio
// SMS number, with OUTREACH_VOICE=ivr), or "" when calls are not answered.
func (c Config) CallNumber() string {
	if c.Voice.Mode != VoiceIVR {
		return ""
	}
	return c.Twilio.SMSFrom
}

func loadVoice(c *Config, getenv func(string) string) error {
	v := Voice{Mode: getenv("OUTREACH_VOICE"), Voices: map[string]SayVoice{}}
	switch v.Mode {
	case "":
		v.Mode = VoiceOff
		if c.Twilio.SMS() {
			v.Mode = VoiceIVR
		}
	case VoiceIVR, VoiceSMSBack:
		if !c.Twilio.SMS() {
			return fmt.Errorf("OUTREACH_VOICE=%s: calls come to the Twilio number: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_SMS_FROM (or TWILIO_MESSAGING_SERVICE_SID), or OUTREACH_VOICE=off", v.Mode)
		}
	case VoiceOff:
	default:
		return fmt.Errorf("OUTREACH_VOICE: want ivr, sms-back or off, got %q", v.Mode)
	}
	for lang, def := range DefaultVoices {
		name := "OUTREACH_VOICE_" + strings.ToUpper(lang)
		s := getenv(name)
		if s == "" {
			v.Voices[lang] = def
			continue
		}
		say := SayVoice{Language: def.Language, Voice: s}
		if tag, voice, ok := strings.Cut(s, ":"); ok {
			say = SayVoice{Language: tag, Voice: voice}
		}
		if !languageTag.MatchString(say.Language) || !voiceName.MatchString(say.Voice) {
			return fmt.Errorf("%s: want a Twilio voice (e.g. %s), or a language tag and a voice (e.g. %s:%s); got %q", name, def.Voice, def.Language, def.Voice, s)
		}
		v.Voices[lang] = say
	}
	c.Voice = v
	return nil
}
