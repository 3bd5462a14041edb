// Which time zone the page's times are in, for grids whose cells show times without a zone.
import { zoneName } from "job-management";

export default {
  template: `<span>{{ text }}</span>`,
  computed: {
    text() {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
      const name = zoneName();
      const where = !zone || zone === name || zone === "Etc/UTC" ? name : `${zone}, ${name}`;
      return `Times are in your time zone (${where}); hover a time for UTC.`;
    },
  },
};
