// Light, dark, or the browser's preference: chosen with a header button and kept in this browser (localStorage).
const KEY = "job-management-theme";
const CHOICES = {
  auto: { next: "dark", icon: "brightness_auto", label: "Theme: follows the system (switch to dark)", dark: null },
  dark: { next: "light", icon: "dark_mode", label: "Theme: dark (switch to light)", dark: true },
  light: { next: "auto", icon: "light_mode", label: "Theme: light (switch to the system's)", dark: false },
};

export default {
  template: `<q-btn flat round dense color="white" :icon="look.icon" :aria-label="look.label" :title="look.label"
                    @click="choose(look.next)" />`,
  data() {
    const saved = window.localStorage.getItem(KEY);
    return { choice: saved in CHOICES ? saved : "auto" };
  },
  computed: {
    look() {
      return CHOICES[this.choice];
    },
  },
  mounted() {
    setDark(this.look.dark);
  },
  methods: {
    choose(choice) {
      this.choice = choice;
      window.localStorage.setItem(KEY, choice);
      setDark(this.look.dark);
    },
  },
};
