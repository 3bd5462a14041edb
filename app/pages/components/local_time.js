// A UTC timestamp shown in the browser's local time (the server does not know the browser's zone).
import { formatTime } from "job-management";

export default {
  template: `<time :datetime="value">{{ text }}</time>`,
  props: { value: String },
  computed: {
    text() {
      return formatTime(this.value);
    },
  },
};
