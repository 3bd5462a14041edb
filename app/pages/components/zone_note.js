// Which time zone the page's times are in, for grids whose cells show times without a zone.
import { zoneName } from "job-management";

export default {
  template: `<span>{{ text }}</span>`,
  computed: {
    text() {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      return `Times are in your time zone, ${zoneName()}${zone ? ` (${zone})` : ""}; hover a time for UTC.`;
    },
  },
};
