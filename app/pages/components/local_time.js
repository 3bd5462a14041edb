// A UTC timestamp shown in the browser's own time zone, labelled with the zone ("2026-11-30 14:21:27 CET"), with
// the UTC time as a tooltip and, if asked, how long ago (or how soon) it is, kept current.
import { formatTime, relativeTime, utcTime, zoneName } from "job-management";

const TICK_MS = 15000;

export default {
  template: `<span class="local-time"><time :datetime="value" :title="utc">{{ text }}</time><span
    v-if="relative && value" class="local-time-relative"> ({{ ago }})</span></span>`,
  props: { value: String, relative: Boolean, clock: Boolean },
  data() {
    return { now: Date.now() };
  },
  computed: {
    text() {
      if (!this.value) return "";
      const shown = this.clock ? formatTime(this.value).slice(11, 16) : formatTime(this.value);
      return `${shown} ${zoneName(this.value)}`;
    },
    utc() {
      return utcTime(this.value);
    },
    ago() {
      return relativeTime(this.value, this.now);
    },
  },
  mounted() {
    if (this.relative) this.timer = setInterval(() => (this.now = Date.now()), TICK_MS);
  },
  unmounted() {
    clearInterval(this.timer);
  },
};
