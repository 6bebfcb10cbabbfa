package eval

// emissionControl is the "Emission control" hotkey of the sn29 hall of fame.
const emissionControl = "5EXXXXXnvHbsa1JSWSseFm8evjALQoqMhxETWyk8moJkaPXH"

// headHoF is the hall of fame at sn29 HEAD (the rules' own tests live in
// package competition).
func headHoF() HallOfFame {
	return HallOfFame{
		"5HotkeyUidZero":    {{Block: 3382073, Reward: 0.2, Desc: "UID-0 claim"}},
		"5HotkeyValidators": {{Block: 3436348, Reward: 1.0, Desc: "Validator testing"}, {Block: 3436348, Reward: 1.0, Desc: "Validator testing"}},
		emissionControl:     {{Block: 5020713, Reward: 1e9, Desc: "Emission control"}},
	}
}
