/// The labelling rules of Models/LABELLING.md for text that arrives from outside the local models (a cloud
/// recogniser, a technician's correction), so it compares with local results word for word. The same rules as
/// Models/command/recipe/labelling.py; a test runs both over the same strings.
public enum Transcript {
    static let digits = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    static let teens = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
    static let tens = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
    static let fillers: Set<String> = ["um", "umm", "uh", "uhh", "er", "erm", "ah", "hmm", "mm"]
    public static let fillerToken = "[filler]"
    static let spellings = ["metres": "meters", "metre": "meter", "ok": "okay", "backwards": "backward", "forwards": "forward"]
    /// Words that sound exactly like a vocabulary word; alone in a clip they count as that word.
    static let homophones = ["know": "no", "to": "two", "too": "two", "for": "four", "won": "one", "write": "right",
                             "ate": "eight", "owe": "oh"]

    /// 0…999 as spoken as a quantity ("twenty five", "one hundred five").
    static func numberWords(_ n: Int) -> [String] {
        if n < 10 { return [digits[n]] }
        if n < 20 { return [teens[n - 10]] }
        if n < 100 { return [tens[n / 10]] + (n % 10 == 0 ? [] : [digits[n % 10]]) }
        return [digits[n / 100], "hundred"] + (n % 100 == 0 ? [] : numberWords(n % 100))
    }

    /// Lower case, no punctuation, numbers as words, fillers as one `[filler]` token, single spaces. A digit run
    /// longer than three or starting with 0 is read digit by digit (a code: "02934"); shorter ones as a quantity.
    public static func normalise(_ text: String) -> String {
        var cleaned = ""
        for scalar in text.lowercased().unicodeScalars {
            switch scalar {
            case "a"..."z", "0"..."9", "'", "[", "]": cleaned.unicodeScalars.append(scalar)
            default: cleaned.append(" ")       // hyphens, punctuation and anything outside ASCII letters separate words
            }
        }
        var words: [String] = []
        for raw in cleaned.split(separator: " ") {
            let token = String(raw).trimmingApostrophes
            guard !token.isEmpty else { continue }
            if token.allSatisfy(\.isASCIIDigit) {
                if token.count > 3 || (token.count > 1 && token.first == "0") {
                    words += token.map { digits[Int(String($0))!] }
                } else {
                    words += numberWords(Int(token)!)
                }
            } else if fillers.contains(token) || token == fillerToken {
                if words.last != fillerToken { words.append(fillerToken) }
            } else {
                words.append(spellings[token] ?? token)
            }
        }
        return words.joined(separator: " ")
    }

    /// The one label of a clip for a command vocabulary: `silence` when nothing was said, the word when exactly one
    /// vocabulary word (or its homophone) was said around any fillers, `unknown` for any other speech.
    public static func commandLabel(_ text: String, vocabulary: Set<String>, unknown: String = "unknown", silence: String = "silence") -> String {
        let words = normalise(text).split(separator: " ").map(String.init)
        guard !words.isEmpty else { return silence }
        let spoken = words.filter { $0 != fillerToken }
        if spoken.count == 1 {
            let word = homophones[spoken[0]] ?? spoken[0]
            if vocabulary.contains(word) { return word }
        }
        return unknown
    }
}

extension String {
    fileprivate var trimmingApostrophes: String {
        var s = Substring(self)
        while s.first == "'" { s = s.dropFirst() }
        while s.last == "'" { s = s.dropLast() }
        return String(s)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
