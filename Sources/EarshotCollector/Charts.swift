import Foundation

/// Inline SVG charts for the dashboard: drawn on the server, no JavaScript, readable without colour (titles carry the
/// numbers).
public enum Charts {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// "24 h", "1.5 h", "30 min".
    public static func hours(_ value: Double) -> String {
        if value < 1 { return "\(Int((value * 60).rounded())) min" }
        return value == value.rounded() ? "\(Int(value)) h" : String(format: "%.1f h", value)
    }

    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        if abs(value) >= 100 { return String(format: "%.0f", value) }
        if abs(value) >= 1 { return String(format: "%.2f", value) }
        return String(format: "%.3g", value)
    }

    /// Reference and current histograms on shared bins: the reference as grey bars, the current as a blue outline.
    static func histogram(title: String, reference: [Double], current: [Double], bins: Int = 24) -> String {
        let width = 360.0, height = 150.0, top = 22.0, bottom = 20.0
        guard let low = (reference + current).min(), let high = (reference + current).max(), !reference.isEmpty, !current.isEmpty else {
            return "<figure class=\"chart\"><figcaption>\(escape(title))</figcaption><p class=\"muted\">not enough values</p></figure>"
        }
        let span = max(high - low, 1e-9)
        func shares(_ values: [Double]) -> [Double] {
            var counts = [Double](repeating: 0, count: bins)
            for v in values { counts[min(bins - 1, Int((v - low) / span * Double(bins)))] += 1 }
            return counts.map { $0 / Double(values.count) }
        }
        let r = shares(reference), c = shares(current)
        let peak = max(r.max() ?? 0, c.max() ?? 0, 1e-9)
        let step = width / Double(bins), plot = height - top - bottom
        var svg = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\" class=\"histogram\">"
        for k in 0..<bins {
            let h = r[k] / peak * plot
            svg += "<rect class=\"reference\" x=\"\(format(Double(k) * step + 1))\" y=\"\(format(top + plot - h))\" width=\"\(format(step - 2))\" height=\"\(format(h))\"><title>reference \(String(format: "%.1f", r[k] * 100)) %</title></rect>"
        }
        var path = ""
        for k in 0..<bins {
            let y = top + plot - c[k] / peak * plot
            path += "\(k == 0 ? "M" : "L")\(format(Double(k) * step)),\(format(y)) L\(format(Double(k + 1) * step)),\(format(y)) "
        }
        svg += "<path class=\"current\" d=\"\(path)\"><title>current</title></path>"
        svg += "<text x=\"0\" y=\"\(Int(height - 4))\" class=\"axis\">\(format(low))</text>"
        svg += "<text x=\"\(Int(width))\" y=\"\(Int(height - 4))\" class=\"axis\" text-anchor=\"end\">\(format(high))</text>"
        svg += "<text x=\"0\" y=\"14\" class=\"label\">\(escape(title))</text></svg>"
        return "<figure class=\"chart\">\(svg)<figcaption><span class=\"key reference\"></span> reference (\(reference.count)) "
            + "<span class=\"key current\"></span> current (\(current.count))</figcaption></figure>"
    }

    /// A line over time buckets; points with no value are gaps.
    static func trend(title: String, unit: String, times: [Double], values: [Double?]) -> String {
        let width = 360.0, height = 150.0, top = 22.0, bottom = 20.0
        let present = values.compactMap { $0 }
        guard let first = times.first, let last = times.last, present.count >= 2 else {
            return "<figure class=\"chart\"><figcaption>\(escape(title))</figcaption><p class=\"muted\">not enough values</p></figure>"
        }
        let low = min(present.min()!, 0)
        let high = present.max()! - low < 1e-6 ? low + 1 : present.max()!
        let plot = height - top - bottom, span = max(last - first, 1)
        var path = "", pen = "M"
        var dots = ""
        for (t, v) in zip(times, values) {
            guard let v else { pen = "M"; continue }
            let x = (t - first) / span * width, y = top + plot - (v - low) / (high - low) * plot
            path += "\(pen)\(format(x)),\(format(y)) "
            pen = "L"
            dots += "<circle cx=\"\(format(x))\" cy=\"\(format(y))\" r=\"2\"><title>\(format(v)) \(escape(unit))</title></circle>"
        }
        let time = DateFormatter()
        time.dateFormat = "MM-dd HH:mm"
        time.timeZone = TimeZone(identifier: "UTC")
        return "<figure class=\"chart\"><svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\" class=\"trend\">"
            + "<path class=\"line\" d=\"\(path)\"/>\(dots)"
            + "<text x=\"0\" y=\"14\" class=\"label\">\(escape(title)) (max \(format(high)) \(escape(unit)))</text>"
            + "<text x=\"0\" y=\"\(Int(height - 4))\" class=\"axis\">\(time.string(from: Date(timeIntervalSince1970: first)))</text>"
            + "<text x=\"\(Int(width))\" y=\"\(Int(height - 4))\" class=\"axis\" text-anchor=\"end\">\(time.string(from: Date(timeIntervalSince1970: last))) UTC</text>"
            + "</svg></figure>"
    }

    /// One heat-map cell: the effect relative to its threshold, whether it drifted, and the reason as a tooltip.
    struct Cell {
        var ratio: Double?
        var drifted: Bool
        var reason: String
    }

    /// Rows × columns of cells coloured by effect ÷ threshold (green below ½, amber above), red only when the column
    /// drifted (significant and large), which is also marked with a dot and an outline for readers without colour.
    static func heatmap(rows: [(label: String, link: String?)], columns: [String], cells: [[Cell]]) -> String {
        let cellWidth = 58.0, cellHeight = 24.0, left = 150.0, top = 70.0
        let width = left + cellWidth * Double(columns.count), height = top + cellHeight * Double(rows.count) + 4
        var svg = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"drift heat map\" class=\"heatmap\" width=\"\(Int(width))\">"
        for (j, column) in columns.enumerated() {
            let x = left + cellWidth * (Double(j) + 0.5)
            svg += "<text class=\"column\" transform=\"translate(\(format(x)),\(Int(top - 6))) rotate(-40)\">\(escape(column))</text>"
        }
        for (i, row) in rows.enumerated() {
            let y = top + cellHeight * Double(i)
            let label = escape(row.label)
            svg += row.link.map { "<a href=\"\(escape($0))\"><text class=\"row\" x=\"\(Int(left - 8))\" y=\"\(format(y + 16))\" text-anchor=\"end\">\(label)</text></a>" }
                ?? "<text class=\"row\" x=\"\(Int(left - 8))\" y=\"\(format(y + 16))\" text-anchor=\"end\">\(label)</text>"
            for (j, cell) in cells[i].enumerated() {
                let x = left + cellWidth * Double(j)
                let fill: String
                switch cell.ratio {
                case nil: fill = "#e6e6e6"
                case _ where cell.drifted: fill = "#d7301f"
                case let r? where r > 0.5: fill = "#fdae61"
                default: fill = "#a6d96a"
                }
                let state = cell.ratio == nil ? "no decision" : cell.drifted ? "DRIFT" : "ok"
                svg += "<rect class=\"cell \(cell.drifted ? "drifted" : "")\" x=\"\(format(x + 1))\" y=\"\(format(y + 1))\" width=\"\(format(cellWidth - 2))\" height=\"\(format(cellHeight - 2))\" fill=\"\(fill)\">"
                    + "<title>\(label) · \(escape(columns[j])): \(state). \(escape(cell.reason))</title></rect>"
                if cell.drifted { svg += "<circle cx=\"\(format(x + cellWidth / 2))\" cy=\"\(format(y + cellHeight / 2))\" r=\"4\" fill=\"#fff\"/>" }
            }
        }
        return svg + "</svg>"
    }
}
